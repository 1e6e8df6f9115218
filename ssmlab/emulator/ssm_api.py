"""The Systems Manager APIs a Session Manager lab needs, on the wire: parameters in, JSON out.

What the answers say comes from the backend (`ssm_models`: commands, sessions, the
simulated agents' view); here are only the actions' parameters, their answers' shapes
and AWS's pagination, as moto's responses.py beside its models.py.

Nothing is executed: command output says so in one honest line.
"""

from __future__ import annotations

from typing import Any, Callable

from ssmlab.emulator.clock import iso
from ssmlab.emulator.protocol import AwsError
from ssmlab.emulator.ssm_models import (
    DEFAULT_COMMAND_TIMEOUT,
    PREFERENCES_DOCUMENT,
    Command,
    Invocation,
    Session,
    SessionManagerBackend,
)

NOTHING_RAN = (
    "ssmlab emulator: the simulated SSM Agent received this command; only AWS-RunShellScript runs, on the "
    "simulated instance (ssmlab.instance); on AWS this document's output appears here.\n"
)


def _output(invocation: Invocation) -> str:
    return NOTHING_RAN if invocation.output is None else invocation.output


class SessionManagerApi:
    """The handlers, keyed by action name; each takes (region, account, params) and returns a dict."""

    def __init__(self, fleet: Any, aws: Callable[[str, str], Any]) -> None:
        self.backend = SessionManagerBackend(fleet, aws)
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
        for agent in self.backend.managed_agents(region, account):
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
                targets += [a.instance_id for a in self.backend.managed_agents(region, account)
                            if a.tags.get(key) in target["Values"]]
            else:
                raise AwsError(400, "InvalidTarget", f"ssmlab emulator supports InstanceIds and tag: targets, not {target['Key']}")
        command = self.backend.send_command(
            region, account, targets, document=params["DocumentName"], parameters=params.get("Parameters", {}),
            comment=params.get("Comment", ""), timeout=int(params.get("TimeoutSeconds", DEFAULT_COMMAND_TIMEOUT)))
        return {"Command": self._command_json(command)}

    def _commands(self, region: str, params: dict) -> list[Command]:
        if params.get("CommandId"):
            return [self.backend.command(params["CommandId"])]
        return self.backend.commands_in(region)

    def list_commands(self, region: str, account: str, params: dict) -> dict:
        commands = self._commands(region, params)
        if params.get("InstanceId"):
            commands = [c for c in commands if params["InstanceId"] in c.invocations]
        page, token = _page([self._command_json(c) for c in commands], params, default_size=50, max_size=50)
        return {"Commands": page, **token}

    def list_command_invocations(self, region: str, account: str, params: dict) -> dict:
        items = [
            self._invocation_json(c, i, details=bool(params.get("Details")))
            for c in self._commands(region, params)
            for i in c.invocations.values()
            if params.get("InstanceId") in (None, i.instance_id)
        ]
        page, token = _page(items, params, default_size=50, max_size=50)
        return {"CommandInvocations": page, **token}

    def get_command_invocation(self, region: str, account: str, params: dict) -> dict:
        command, invocation = self.backend.invocation(params.get("CommandId", ""), params.get("InstanceId", ""))
        done = invocation.finished_at is not None and invocation.status in ("Success", "Failed")
        return {
            "CommandId": command.command_id,
            "InstanceId": invocation.instance_id,
            "Comment": command.comment,
            "DocumentName": command.document,
            "DocumentVersion": "$DEFAULT",
            "PluginName": params.get("PluginName", _plugin(command.document)),
            "ResponseCode": invocation.response_code,
            "ExecutionStartDateTime": iso(invocation.finished_at) if done else "",
            "ExecutionElapsedTime": "PT0S" if done else "",
            "ExecutionEndDateTime": iso(invocation.finished_at) if done else "",
            "Status": invocation.status,
            "StatusDetails": invocation.details,
            "StandardOutputContent": _output(invocation) if done else "",
            "StandardOutputUrl": "",
            "StandardErrorContent": "",
            "StandardErrorUrl": "",
            "CloudWatchOutputConfig": {"CloudWatchOutputEnabled": False},
        }

    def _command_json(self, command: Command) -> dict:
        statuses = [i.status for i in command.invocations.values()]
        overall = command.status
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
            done = invocation.finished_at is not None and invocation.status in ("Success", "Failed")
            item["CommandPlugins"] = [
                {
                    "Name": _plugin(command.document),
                    "Status": invocation.status,
                    "StatusDetails": invocation.details,
                    "ResponseCode": invocation.response_code,
                    "Output": _output(invocation) if done else "",
                }
            ]
        return item

    # -- Session Manager -----------------------------------------------------------------------

    def start_session(self, region: str, account: str, params: dict) -> dict:
        session = self.backend.start_session(region, account, params.get("Target", ""),
                                             document=params.get("DocumentName", PREFERENCES_DOCUMENT),
                                             reason=params.get("Reason", ""), parameters=params.get("Parameters"))
        return {"SessionId": session.session_id, **self.backend.stream(session)}

    def describe_sessions(self, region: str, account: str, params: dict) -> dict:
        state = params.get("State")
        if state not in ("Active", "History"):
            raise AwsError(400, "ValidationException", "State must be Active or History.")
        filters = {f["key"]: f["value"] for f in params.get("Filters", [])}
        items = []
        for session in self.backend.sessions_in(region):
            if session.active != (state == "Active"):
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
        return {"SessionId": self.backend.terminate_session(params.get("SessionId", "")).session_id}

    def resume_session(self, region: str, account: str, params: dict) -> dict:
        session = self.backend.resume_session(params.get("SessionId", ""))
        return {"SessionId": session.session_id, **self.backend.stream(session)}

    def get_connection_status(self, region: str, account: str, params: dict) -> dict:
        target = params.get("Target", "")
        connected = self.backend.connected(region, account, target)
        return {"Target": target, "Status": "connected" if connected else "notconnected"}

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


def _computer_name(ip: str, region: str) -> str:
    """EC2's private DNS name, as the agent reports it for Amazon Linux."""
    if not ip:
        return ""
    suffix = "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"
    return f"ip-{ip.replace('.', '-')}.{suffix}"


def _plugin(document: str) -> str:
    return "aws:runPowerShellScript" if "PowerShell" in document else "aws:runShellScript"


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
