"""The Systems Manager APIs a Session Manager lab needs, answered from the simulated agents.

moto has no DescribeInstanceInformation, StartSession, DescribeSessions or
ListCommandInvocations, and its SendCommand "runs" on every instance whatever the target
(FACTS.md). Here a node is managed only when its simulated agent registered, a command
reaches only the instances named, and a session starts only when the agent can hold a
channel on ssmmessages — "Online" is not "session ready" (FACTS.md).

Nothing is executed: command output and session records say so in one honest line.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from ssmlab.emulator.agent import ONLINE
from ssmlab.emulator.clock import iso
from ssmlab.emulator.protocol import AwsError

PREFERENCES_DOCUMENT = "SSM-SessionManagerRunShell"
NOTHING_RAN = (
    "ssmlab emulator: the simulated SSM Agent received this command, but nothing ran "
    "(there is no real instance); on AWS the command's output appears here.\n"
)
ACTIVE_STATES = ("Connected", "Connecting", "Disconnected", "Terminating")
DEFAULT_COMMAND_TIMEOUT = 3600  # SendCommand's default delivery timeout, in seconds


def _not_connected(target: str) -> AwsError:
    return AwsError(400, "TargetNotConnected", f"{target} is not connected.")


@dataclass
class Invocation:
    instance_id: str
    status: str = "Pending"
    details: str = "Pending"
    finished_at: float | None = None


@dataclass
class Command:
    command_id: str
    document: str
    parameters: dict
    comment: str
    requested_at: float
    timeout: int
    region: str
    invocations: dict[str, Invocation] = field(default_factory=dict)


@dataclass
class Session:
    session_id: str
    target: str
    region: str
    owner: str
    document: str
    reason: str
    started_at: float
    status: str = "Connected"
    details: str = ""
    ended_at: float | None = None
    log_group: str | None = None
    bucket: str | None = None
    s3_prefix: str = ""


class SessionManagerApi:
    """The handlers, keyed by action name; each takes (region, account, params) and returns a dict."""

    def __init__(self, fleet: Any, aws: Callable[[str, str], Any]) -> None:
        self.fleet = fleet
        self.clock = fleet.clock
        self._aws = aws  # (service, region) -> a boto3 client on this emulator
        self.commands: dict[str, Command] = {}
        self.sessions: dict[str, Session] = {}
        self.lock = threading.RLock()
        self.actions: dict[str, Callable[[str, str, dict], dict]] = {
            "DescribeInstanceInformation": self.describe_instance_information,
            "SendCommand": self.send_command,
            "ListCommands": self.list_commands,
            "ListCommandInvocations": self.list_command_invocations,
            "GetCommandInvocation": self.get_command_invocation,
            "StartSession": self.start_session,
            "DescribeSessions": self.describe_sessions,
            "TerminateSession": self.terminate_session,
            "ResumeSession": self.resume_session,
            "GetConnectionStatus": self.get_connection_status,
        }

    # -- managed nodes -----------------------------------------------------------------------

    def _agents(self, region: str, account: str) -> list[Any]:
        self.fleet.catch_up()
        return sorted(
            (a for a in self.fleet.agents.values() if a.region == region and a.account_id == account and a.registered),
            key=lambda a: a.instance_id,
        )

    def describe_instance_information(self, region: str, account: str, params: dict) -> dict:
        filters: dict[str, list[str]] = {}
        for f in params.get("InstanceInformationFilterList", []):
            filters[f["key"]] = f["valueSet"]
        for f in params.get("Filters", []):
            filters[f["Key"]] = f["Values"]
        supported = {"InstanceIds", "PingStatus", "PlatformTypes", "AgentVersion", "ResourceType"}
        unknown = set(filters) - supported
        if unknown:
            raise AwsError(400, "InvalidFilterKey", f"ssmlab emulator supports the filter keys {sorted(supported)}, not {sorted(unknown)}")
        items = []
        for agent in self._agents(region, account):
            item = {
                "InstanceId": agent.instance_id,
                "PingStatus": agent.ping_status,
                "LastPingDateTime": agent.last_ping,
                "AgentVersion": agent.version,
                "IsLatestVersion": agent.version == _latest_version(),
                "PlatformType": agent.platform["PlatformType"],
                "PlatformName": agent.platform["PlatformName"],
                "PlatformVersion": agent.platform["PlatformVersion"],
                "ResourceType": "EC2Instance",
                "IPAddress": agent.private_ip,
                "ComputerName": _computer_name(agent.private_ip, region),
                "RegistrationDate": agent.registered_at,
            }
            if _matches(item, filters):
                items.append(item)
        page, token = _page(items, params, default_size=50, max_size=50)
        return {"InstanceInformationList": page, **token}

    # -- Run Command ---------------------------------------------------------------------------

    def send_command(self, region: str, account: str, params: dict) -> dict:
        targets = list(params.get("InstanceIds", []))
        for target in params.get("Targets", []):
            if target["Key"] == "InstanceIds":
                targets += target["Values"]
            elif target["Key"].startswith("tag:"):
                key = target["Key"][4:]
                targets += [a.instance_id for a in self._agents(region, account) if a.tags.get(key) in target["Values"]]
            else:
                raise AwsError(400, "InvalidTarget", f"ssmlab emulator supports InstanceIds and tag: targets, not {target['Key']}")
        if not targets:
            raise AwsError(400, "InvalidInstanceId", "No instance ids or targets given.")
        online = {a.instance_id for a in self._agents(region, account) if a.ping_status == ONLINE}
        invalid = [t for t in targets if t not in online]
        if invalid:
            raise AwsError(400, "InvalidInstanceId", f"Instances [[{', '.join(invalid)}]] not in a valid state for account {account}")
        now = self.clock.now()
        command = Command(
            command_id=str(uuid.uuid4()),
            document=params["DocumentName"],
            parameters=params.get("Parameters", {}),
            comment=params.get("Comment", ""),
            requested_at=now,
            timeout=int(params.get("TimeoutSeconds", DEFAULT_COMMAND_TIMEOUT)),
            region=region,
            invocations={t: Invocation(t) for t in dict.fromkeys(targets)},
        )
        with self.lock:
            self.commands[command.command_id] = command
            self._deliver(command)
        return {"Command": self._command_json(command)}

    def _deliver(self, command: Command) -> None:
        """Deliver pending invocations whose agent holds a control channel now; time out the rest. The
        channel carries the command, so an agent whose channel outlives a security-group change (connection
        tracking, agent.py) still gets it: the simulation's reading, the service's side is not documented."""
        now = self.clock.now()
        for invocation in command.invocations.values():
            if invocation.status != "Pending":
                continue
            if self.fleet.reachable(invocation.instance_id):
                invocation.status = invocation.details = "Success"
                invocation.finished_at = now
            elif now > command.requested_at + command.timeout:
                invocation.status, invocation.details = "TimedOut", "DeliveryTimedOut"
                invocation.finished_at = now

    def _command(self, params: dict) -> Command:
        command = self.commands.get(params.get("CommandId", ""))
        if command is None:
            raise AwsError(400, "InvalidCommandId", f"Command {params.get('CommandId')} does not exist.")
        with self.lock:
            self._deliver(command)
        return command

    def list_commands(self, region: str, account: str, params: dict) -> dict:
        commands = [self._command(params)] if params.get("CommandId") else [
            self._command({"CommandId": c}) for c, cmd in self.commands.items() if cmd.region == region
        ]
        if params.get("InstanceId"):
            commands = [c for c in commands if params["InstanceId"] in c.invocations]
        page, token = _page([self._command_json(c) for c in commands], params, default_size=50, max_size=50)
        return {"Commands": page, **token}

    def list_command_invocations(self, region: str, account: str, params: dict) -> dict:
        commands = [self._command(params)] if params.get("CommandId") else [
            self._command({"CommandId": c}) for c, cmd in self.commands.items() if cmd.region == region
        ]
        items = [
            self._invocation_json(c, i, details=bool(params.get("Details")))
            for c in commands
            for i in c.invocations.values()
            if params.get("InstanceId") in (None, i.instance_id)
        ]
        page, token = _page(items, params, default_size=50, max_size=50)
        return {"CommandInvocations": page, **token}

    def get_command_invocation(self, region: str, account: str, params: dict) -> dict:
        command = self.commands.get(params.get("CommandId", ""))
        invocation = command and command.invocations.get(params.get("InstanceId", ""))
        if not invocation:
            raise AwsError(400, "InvocationDoesNotExist", "An invalid combination of CommandId and InstanceId was given.")
        with self.lock:
            self._deliver(command)
        done = invocation.status == "Success"
        return {
            "CommandId": command.command_id,
            "InstanceId": invocation.instance_id,
            "Comment": command.comment,
            "DocumentName": command.document,
            "DocumentVersion": "$DEFAULT",
            "PluginName": params.get("PluginName", _plugin(command.document)),
            "ResponseCode": 0 if done else -1,
            "ExecutionStartDateTime": iso(invocation.finished_at) if done else "",
            "ExecutionElapsedTime": "PT0S" if done else "",
            "ExecutionEndDateTime": iso(invocation.finished_at) if done else "",
            "Status": invocation.status,
            "StatusDetails": invocation.details,
            "StandardOutputContent": NOTHING_RAN if done else "",
            "StandardOutputUrl": "",
            "StandardErrorContent": "",
            "StandardErrorUrl": "",
            "CloudWatchOutputConfig": {"CloudWatchOutputEnabled": False},
        }

    def _command_json(self, command: Command) -> dict:
        statuses = [i.status for i in command.invocations.values()]
        overall = "Success" if all(s == "Success" for s in statuses) else (
            "TimedOut" if any(s == "TimedOut" for s in statuses) else "Pending"
        )
        return {
            "CommandId": command.command_id,
            "DocumentName": command.document,
            "DocumentVersion": "$DEFAULT",
            "Comment": command.comment,
            "ExpiresAfter": command.requested_at + command.timeout,
            "Parameters": command.parameters,
            "InstanceIds": list(command.invocations),
            "Targets": [],
            "RequestedDateTime": command.requested_at,
            "Status": overall,
            "StatusDetails": overall,
            "MaxConcurrency": "50",
            "MaxErrors": "0",
            "TargetCount": len(statuses),
            "CompletedCount": sum(s != "Pending" for s in statuses),
            "ErrorCount": 0,
            "DeliveryTimedOutCount": sum(s == "TimedOut" for s in statuses),
            "TimeoutSeconds": command.timeout,
        }

    def _invocation_json(self, command: Command, invocation: Invocation, details: bool) -> dict:
        item = {
            "CommandId": command.command_id,
            "InstanceId": invocation.instance_id,
            "Comment": command.comment,
            "DocumentName": command.document,
            "DocumentVersion": "$DEFAULT",
            "RequestedDateTime": command.requested_at,
            "Status": invocation.status,
            "StatusDetails": invocation.details,
            "StandardOutputUrl": "",
            "StandardErrorUrl": "",
        }
        if details:
            done = invocation.status == "Success"
            item["CommandPlugins"] = [
                {
                    "Name": _plugin(command.document),
                    "Status": invocation.status,
                    "StatusDetails": invocation.details,
                    "ResponseCode": 0 if done else -1,
                    "Output": NOTHING_RAN if done else "",
                }
            ]
        return item

    # -- Session Manager -----------------------------------------------------------------------

    def start_session(self, region: str, account: str, params: dict) -> dict:
        target = params.get("Target", "")
        agent = next((a for a in self._agents(region, account) if a.instance_id == target), None)
        if agent is None or agent.phase == "stopped":
            raise _not_connected(target)
        assessment = self.fleet.assess_now(target)
        if assessment is None or not assessment.session_channel.passed:
            raise _not_connected(target)
        now = self.clock.now()
        session = Session(
            session_id=f"{_owner_name()}-{secrets.token_hex(8)}",
            target=target,
            region=region,
            owner=f"arn:aws:sts::{account}:user/{_owner_name()}",
            document=params.get("DocumentName", PREFERENCES_DOCUMENT),
            reason=params.get("Reason", ""),
            started_at=now,
        )
        preferences = self._preferences(region)
        session.log_group = preferences.get("cloudWatchLogGroupName") or None
        session.bucket = preferences.get("s3BucketName") or None
        session.s3_prefix = preferences.get("s3KeyPrefix") or ""
        # The KMS handshake comes first: it opens the data channel that logging then records.
        problem = self._encryption_problem(target, region, preferences.get("kmsKeyId")) or \
            self._logging_problem(target, session)
        if problem:
            session.status, session.details, session.ended_at = "Failed", problem, now
        else:
            self._record(session, "started")
        with self.lock:
            self.sessions[session.session_id] = session
        return {"SessionId": session.session_id, **_stream(session)}

    def _preferences(self, region: str) -> dict:
        from botocore.exceptions import ClientError

        try:
            document = self._aws("ssm", region).get_document(Name=PREFERENCES_DOCUMENT, DocumentFormat="JSON")
        except ClientError:
            return {}
        return json.loads(document["Content"]).get("inputs", {})

    def _encryption_problem(self, target: str, region: str, ref: str | None) -> str | None:
        """Why the agent could not decrypt the session's data key, if the preferences name a KMS key and it cannot
        (`encryption.session_problem`: the agent's own words; KMS encryption needs agent >= 2.3.539.0, FACTS.md)."""
        from botocore.exceptions import ClientError

        from ssmlab import encryption

        if not ref:
            return None
        try:  # the key as this emulator's KMS knows it: its ARN (what IAM authorises) and its state
            key = self._aws("kms", region).describe_key(KeyId=ref)["KeyMetadata"]
        except ClientError as error:
            detail = error.response.get("Error", {})
            return f"{encryption.DATA_KEY_FAILED} {detail.get('Code')}: {detail.get('Message')}"
        return encryption.session_problem(self.fleet.state_for(target), target, key["Arn"], key.get("KeyState"))

    def _logging_problem(self, target: str, session: Session) -> str | None:
        """Why the agent could not write the transcript where the preferences say, if it cannot."""
        from ssmlab import netpath, policy

        state = self.fleet.state_for(target)
        instance = state.instance(target)
        profile = state.profile(instance.profile_arn) if instance else None
        role = state.role(profile.role_names[0]) if profile and profile.role_names else None
        policies = policy.role_policies(role) if role else ()
        partition, account = _arn_parts(role.arn if role else "")
        needs = []
        if session.log_group:
            stream = (
                f"arn:{partition}:logs:{session.region}:{account}:log-group:{session.log_group}"
                f":log-stream:{session.session_id}"
            )
            needs.append(("logs", "CloudWatch Logs", ("logs:CreateLogStream", "logs:PutLogEvents"), stream))
        if session.bucket:
            key = f"arn:{partition}:s3:::{session.bucket}/{session.s3_prefix}{session.session_id}.log"
            needs.append(("s3", "S3", ("s3:PutObject",), key))
        for service, label, actions, resource in needs:
            path = netpath.path(state, target, service)
            if not path.reachable:
                hop = path.first_failure
                return f"session logging to {label} is configured but the agent cannot reach {service}: {hop.detail if hop else 'no path'}"
            missing = policy.missing_actions(policies, actions, resource=resource)
            if missing:
                return f"session logging to {label} is configured but the instance role lacks {', '.join(missing)}"
        return None

    def _record(self, session: Session, event: str) -> None:
        """Write a clearly emulator-made session record where the preferences say."""
        when = iso(self.clock.now())
        line = (
            f"ssmlab emulator: simulated session {session.session_id} {event} on {session.target} by {session.owner} "
            f"at {when}; no shell ran, so there is no transcript."
        )
        if session.log_group:
            from ssmlab.aws import get_or_none

            logs = self._aws("logs", session.region)
            get_or_none(  # the stream exists already when the session ends
                logs.create_log_stream, missing=("ResourceAlreadyExistsException",),
                logGroupName=session.log_group, logStreamName=session.session_id,
            )
            logs.put_log_events(
                logGroupName=session.log_group,
                logStreamName=session.session_id,
                # The event is stamped with wall time: CloudWatch Logs refuses events from the future,
                # and the simulated clock runs ahead. The simulated time is in the message.
                logEvents=[{"timestamp": int(time.time() * 1000), "message": line}],
            )
        if session.bucket:
            key = f"{session.s3_prefix}{session.session_id}.log"
            s3 = self._aws("s3", session.region)
            previous = ""
            if event != "started":
                previous = s3.get_object(Bucket=session.bucket, Key=key)["Body"].read().decode()
            s3.put_object(Bucket=session.bucket, Key=key, Body=(previous + line + "\n").encode())

    def describe_sessions(self, region: str, account: str, params: dict) -> dict:
        state = params.get("State")
        if state not in ("Active", "History"):
            raise AwsError(400, "ValidationException", "State must be Active or History.")
        filters = {f["key"]: f["value"] for f in params.get("Filters", [])}
        items = []
        for session in sorted(self.sessions.values(), key=lambda s: s.started_at, reverse=True):
            active = session.status in ACTIVE_STATES
            if session.region != region or active != (state == "Active"):
                continue
            if any(
                (key == "Target" and session.target != value)
                or (key == "SessionId" and session.session_id != value)
                or (key == "Status" and session.status != value)
                or (key == "Owner" and session.owner != value)
                for key, value in filters.items()
            ):
                continue
            items.append(self._session_json(session))
        page, token = _page(items, params, default_size=20, max_size=200)
        return {"Sessions": page, **token}

    def terminate_session(self, region: str, account: str, params: dict) -> dict:
        session = self._session(params)
        if session.status in ACTIVE_STATES:
            session.status, session.ended_at = "Terminated", self.clock.now()
            self._record(session, "terminated")
        return {"SessionId": session.session_id}

    def resume_session(self, region: str, account: str, params: dict) -> dict:
        session = self._session(params)
        if session.status not in ACTIVE_STATES:
            raise AwsError(400, "DoesNotExistException", f"Session {session.session_id} is {session.status} and cannot be resumed.")
        return {"SessionId": session.session_id, **_stream(session)}

    def get_connection_status(self, region: str, account: str, params: dict) -> dict:
        target = params.get("Target", "")
        agent = next((a for a in self._agents(region, account) if a.instance_id == target), None)
        connected = False
        if agent is not None and agent.phase != "stopped" and agent.ping_status == ONLINE:
            assessment = self.fleet.assess_now(target)
            connected = bool(assessment and assessment.session_channel.passed)
        return {"Target": target, "Status": "connected" if connected else "notconnected"}

    def _session(self, params: dict) -> Session:
        session = self.sessions.get(params.get("SessionId", ""))
        if session is None:
            raise AwsError(400, "DoesNotExistException", f"Session with id {params.get('SessionId')} does not exist.")
        return session

    def _session_json(self, session: Session) -> dict:
        item = {
            "SessionId": session.session_id,
            "Target": session.target,
            "Status": session.status,
            "StartDate": session.started_at,
            "DocumentName": session.document,
            "Owner": session.owner,
            "Reason": session.reason,
            "Details": session.details,
            "OutputUrl": {
                "S3OutputUrl": f"s3://{session.bucket}/{session.s3_prefix}{session.session_id}.log" if session.bucket else "",
                "CloudWatchOutputUrl": f"{session.log_group}:{session.session_id}" if session.log_group else "",
            },
        }
        if session.ended_at is not None:
            item["EndDate"] = session.ended_at
        return item


# -- helpers -------------------------------------------------------------------------------------


def _latest_version() -> str:
    from ssmlab.emulator.fleet import SIMULATED_AGENT_VERSION

    return SIMULATED_AGENT_VERSION


def _arn_parts(arn: str) -> tuple[str, str]:
    """(partition, account) of an ARN, with the emulator's defaults when there is none."""
    parts = arn.split(":")
    return (parts[1], parts[4]) if len(parts) > 4 else ("aws", "123456789012")


def _owner_name() -> str:
    return "ssmlab-learner"


def _computer_name(ip: str, region: str) -> str:
    """EC2's private DNS name, as the agent reports it for Amazon Linux."""
    if not ip:
        return ""
    suffix = "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"
    return f"ip-{ip.replace('.', '-')}.{suffix}"


def _plugin(document: str) -> str:
    return "aws:runPowerShellScript" if "PowerShell" in document else "aws:runShellScript"


def _stream(session: Session) -> dict:
    token = secrets.token_urlsafe(32)
    return {
        "TokenValue": token,
        "StreamUrl": f"wss://ssmmessages.{session.region}.amazonaws.com/v1/data-channel/{session.session_id}?role=publish_subscribe",
    }


def _matches(item: dict, filters: dict[str, list[str]]) -> bool:
    fields = {"InstanceIds": "InstanceId", "PingStatus": "PingStatus", "PlatformTypes": "PlatformType",
              "AgentVersion": "AgentVersion", "ResourceType": "ResourceType"}
    return all(str(item.get(fields[key])) in values for key, values in filters.items())


def _page(items: list[dict], params: dict, default_size: int, max_size: int) -> tuple[list[dict], dict]:
    """AWS-style pagination: an opaque NextToken (here, the offset) and a bounded MaxResults."""
    size = int(params.get("MaxResults") or default_size)
    if not 1 <= size <= max_size:
        raise AwsError(400, "ValidationException", f"MaxResults must be between 1 and {max_size}.")
    try:
        start = int(params.get("NextToken") or 0)
    except ValueError:
        raise AwsError(400, "InvalidNextToken", "The NextToken is not valid.") from None
    page = items[start : start + size]
    token = {"NextToken": str(start + size)} if start + size < len(items) else {}
    return page, token
