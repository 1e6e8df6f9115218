"""The Session Manager backend: the commands and sessions the emulator keeps, and what the agents make of them.

moto has no DescribeInstanceInformation, StartSession, DescribeSessions or
ListCommandInvocations, and its SendCommand "runs" on every instance whatever the target
(FACTS.md). Here a node is managed only when its simulated agent registered, a command
reaches only the instances named, and a session starts only when the agent can hold a
channel on ssmmessages — "Online" is not "session ready" (FACTS.md). The wire format
(parameters in, JSON out) is `ssm_api`'s; this module holds the state, as moto's
models.py beside its responses.py.

Nothing is executed on the host. A session's record in CloudWatch Logs or S3 is the transcript of the shell its
data channel served (`session_log`), or, for a session whose channel was never opened, one emulator-made line.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from ssmlab.emulator import principal
from ssmlab.emulator.agent import ONLINE
from ssmlab.emulator.protocol import AwsError
from ssmlab.emulator.responders import simulated_instance
from ssmlab.preferences import DOCUMENT as PREFERENCES_DOCUMENT

ACTIVE_STATES = ("Connected", "Connecting", "Disconnected", "Terminating")
DEFAULT_COMMAND_TIMEOUT = 3600  # SendCommand's default delivery timeout, in seconds
OWNER_NAME = "ssmlab-learner"  # who starts every session: the emulator knows no IAM user


def not_connected(target: str) -> AwsError:
    return AwsError(400, "TargetNotConnected", f"{target} is not connected.")


@dataclass
class Invocation:
    instance_id: str
    status: str = "Pending"
    details: str = "Pending"
    finished_at: float | None = None
    output: str | None = None  # what the simulated instance printed (AWS-RunShellScript); None: nothing ran
    response_code: int = -1


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

    @property
    def status(self) -> str:
        """The command's status from its invocations': Success when all succeeded."""
        statuses = [i.status for i in self.invocations.values()]
        if all(s == "Success" for s in statuses):
            return "Success"
        return "TimedOut" if any(s == "TimedOut" for s in statuses) else "Pending"


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
    streaming: bool = False  # cloudWatchStreamingEnabled
    terminal: list[str] | None = None  # the agent's copy of what the shell printed; None: no shell ran
    parameters: dict = field(default_factory=dict)  # StartSession's Parameters (a port session's port, host)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATES


class SessionManagerBackend:
    """Commands and sessions of every account and region, decided by the fleet's simulated agents."""

    def __init__(self, fleet: Any, aws: Callable[[str, str], Any]) -> None:
        self.fleet = fleet
        self.clock = fleet.clock
        self._aws = aws  # (service, region) -> a boto3 client on this emulator
        self.commands: dict[str, Command] = {}
        self.sessions: dict[str, Session] = {}
        self.lock = threading.RLock()
        self.stream_base: str | None = None  # the data channel server's ws://host:port, once it serves
        # StreamUrl as the caller reaches it (datachannel.reachable: the request's Host on a wildcard bind)
        self.reachable: Callable[[str, str | None], str] = lambda url, host: url
        self._tokens: dict[str, tuple[str, bool]] = {}  # TokenValue -> (session id, used)

    # -- managed nodes -----------------------------------------------------------------------

    def managed_agents(self, region: str, account: str) -> list[Any]:
        """The registered agents of an account and region, by instance id."""
        self.fleet.catch_up()
        return sorted(
            (a for a in self.fleet.agents.values() if a.region == region and a.account_id == account and a.registered),
            key=lambda a: a.instance_id,
        )

    def _managed_agent(self, region: str, account: str, target: str) -> Any:
        return next((a for a in self.managed_agents(region, account) if a.instance_id == target), None)

    # -- Run Command ---------------------------------------------------------------------------

    def send_command(self, region: str, account: str, targets: list[str], document: str, parameters: dict,
                     comment: str, timeout: int) -> Command:
        """A command to the instances named; each must be Online now, as AWS checks at once."""
        if not targets:
            raise AwsError(400, "InvalidInstanceId", "No instance ids or targets given.")
        online = {a.instance_id for a in self.managed_agents(region, account) if a.ping_status == ONLINE}
        invalid = [t for t in targets if t not in online]
        if invalid:
            raise AwsError(400, "InvalidInstanceId", f"Instances [[{', '.join(invalid)}]] not in a valid state for account {account}")
        command = Command(
            command_id=str(uuid.uuid4()),
            document=document,
            parameters=parameters,
            comment=comment,
            requested_at=self.clock.now(),
            timeout=timeout,
            region=region,
            invocations={t: Invocation(t) for t in dict.fromkeys(targets)},
        )
        with self.lock:
            self.commands[command.command_id] = command
            self._deliver(command)
        return command

    def _deliver(self, command: Command) -> None:
        """Deliver pending invocations whose agent holds a control channel now; time out the rest. The
        channel carries the command, so an agent whose channel outlives a security-group change (connection
        tracking, agent.py) still gets it: the simulation's reading, the service's side is not documented."""
        now = self.clock.now()
        for invocation in command.invocations.values():
            if invocation.status != "Pending":
                continue
            if self.fleet.reachable(invocation.instance_id):
                self._run(command, invocation)
                invocation.finished_at = now
            elif now > command.requested_at + command.timeout:
                invocation.status, invocation.details = "TimedOut", "DeliveryTimedOut"
                invocation.finished_at = now

    def _run(self, command: Command, invocation: Invocation) -> None:
        """AWS-RunShellScript runs its lines in one shell (aws:runShellScript), so on the simulated instance each
        line is answered in turn and the last exit code is the script's; non-zero fails the invocation (Run Command's
        ResponseCode and Failed status). Other documents are received and run nothing here. Standard error is
        printed within the output, as a terminal interleaves it: the simulation's choice."""
        if command.document != "AWS-RunShellScript":
            invocation.status = invocation.details = "Success"
            invocation.response_code = 0
            return
        shell = simulated_instance(self.fleet, invocation.instance_id, user="root")
        lines = [line for entry in command.parameters.get("commands", []) for line in str(entry).splitlines()]
        printed, code = [], 0
        for line in lines:
            answer = shell.run(line)
            printed.append(answer.output)
            code = answer.exit_code
            if answer.closes:
                break
        invocation.output, invocation.response_code = "".join(printed), code
        invocation.status = invocation.details = "Success" if code == 0 else "Failed"

    def command(self, command_id: str) -> Command:
        """One command as it stands now (its invocations delivered or timed out since)."""
        command = self.commands.get(command_id)
        if command is None:
            raise AwsError(400, "InvalidCommandId", f"Command {command_id} does not exist.")
        with self.lock:
            self._deliver(command)
        return command

    def commands_in(self, region: str) -> list[Command]:
        return [self.command(c) for c, cmd in list(self.commands.items()) if cmd.region == region]

    def invocation(self, command_id: str, instance_id: str) -> tuple[Command, Invocation]:
        command = self.commands.get(command_id)
        invocation = command and command.invocations.get(instance_id)
        if not invocation:
            raise AwsError(400, "InvocationDoesNotExist", "An invalid combination of CommandId and InstanceId was given.")
        with self.lock:
            self._deliver(command)
        return command, invocation

    # -- Session Manager -----------------------------------------------------------------------

    def start_session(self, region: str, account: str, target: str, document: str, reason: str,
                      parameters: dict | None = None) -> Session:
        """A session with the agent on `target`: refused unless it can hold a data channel on ssmmessages;
        Failed, with the agent's reason, when it cannot decrypt the session key or write the transcript."""
        agent = self._managed_agent(region, account, target)
        if agent is None or agent.phase == "stopped":
            raise not_connected(target)
        assessment = self.fleet.assess_now(target)
        if assessment is None or not assessment.session_channel.passed:
            raise not_connected(target)
        now = self.clock.now()
        # A session's id starts with its owner's user name, as AWS names an IAM user's sessions (which is what a
        # policy's session/${aws:username}-* relies on); in class mode the owner is the participant.
        caller = principal.current()
        owner = caller.name if caller is not None else OWNER_NAME
        session = Session(
            session_id=f"{owner}-{secrets.token_hex(8)}",
            target=target,
            region=region,
            owner=caller.arn if caller is not None else f"arn:aws:sts::{account}:user/{OWNER_NAME}",
            document=document,
            reason=reason,
            started_at=now,
            parameters=dict(parameters or {}),
        )
        preferences = self._preferences(region)
        session.log_group = preferences.get("cloudWatchLogGroupName") or None
        session.bucket = preferences.get("s3BucketName") or None
        session.s3_prefix = preferences.get("s3KeyPrefix") or ""
        session.streaming = bool(preferences.get("cloudWatchStreamingEnabled"))
        # The KMS handshake comes first: it opens the data channel that logging then records.
        problem = self._encryption_problem(target, region, preferences.get("kmsKeyId")) or \
            self._logging_problem(target, session, preferences)
        if problem:
            session.status, session.details, session.ended_at = "Failed", problem, now
        with self.lock:
            self.sessions[session.session_id] = session
        return session

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

    def _logging_problem(self, target: str, session: Session, preferences: dict) -> str | None:
        """Why the agent could not write this session's transcript where the preferences say (`transcript`: the
        doctor's rule, for this session's own log stream or object)."""
        from ssmlab import transcript

        return transcript.session_failure(self.fleet.state_for(target), target, preferences, session.session_id)

    def session(self, session_id: str) -> Session:
        session = self.sessions.get(session_id)
        if session is None:
            raise AwsError(400, "DoesNotExistException", f"Session with id {session_id} does not exist.")
        return session

    def sessions_in(self, region: str) -> list[Session]:
        """The region's sessions, newest first."""
        return [s for s in sorted(self.sessions.values(), key=lambda s: s.started_at, reverse=True)
                if s.region == region]

    def terminate_session(self, session_id: str) -> Session:
        """End the session (once, whoever ends it first) and write its record where the preferences say."""
        from ssmlab.emulator import session_log

        session = self.session(session_id)
        with self.lock:
            ending = session.active
            if ending:
                session.status, session.ended_at = "Terminated", self.clock.now()
        if ending:
            session_log.write(session, self._aws, self.fleet, session.ended_at)
        return session

    def end_session(self, session_id: str, reason: str) -> None:
        """The data channel ended the session: the shell exited (no reason) or the agent's path broke."""
        session = self.terminate_session(session_id)
        if reason:
            session.details = reason

    # -- the data channel (datachannel.py) ------------------------------------------------------------

    def stream(self, session: Session) -> dict:
        """StartSession's and ResumeSession's TokenValue (one-time) and StreamUrl, on the data channel server."""
        token = secrets.token_urlsafe(32)
        with self.lock:
            self._tokens[token] = (session.session_id, False)
        path = f"/v1/data-channel/{session.session_id}?role=publish_subscribe"
        base = self.stream_base or f"wss://ssmmessages.{session.region}.amazonaws.com"  # no server: AWS's shape
        return {"TokenValue": token, "StreamUrl": base + path}

    def claim_token(self, session_id: str, token: str) -> str | None:
        """Use a token once, for its own session while it is active; why not, if it may not be used."""
        with self.lock:
            issued = self._tokens.get(token)
            if issued is None or issued[0] != session_id:
                return "the token is not valid for this session"
            if issued[1]:
                return "the token was used already"
            session = self.sessions.get(session_id)
            if session is None or not session.active:
                return f"session {session_id} is not active"
            self._tokens[token] = (session_id, True)
        return None

    def channel_problem(self, target: str) -> str | None:
        """Why the agent on `target` cannot serve a data channel now (its ssmmessages path), as start_session judges."""
        assessment = self.fleet.assess_now(target)
        if assessment is None:
            return f"{target} is not connected."
        if not assessment.session_channel.passed:
            return f"{target} lost its channel to ssmmessages: {assessment.session_channel.detail}"
        return None

    def resume_session(self, session_id: str) -> Session:
        session = self.session(session_id)
        if not session.active:
            raise AwsError(400, "DoesNotExistException", f"Session {session.session_id} is {session.status} and cannot be resumed.")
        return session

    def connected(self, region: str, account: str, target: str) -> bool:
        """Whether a session to `target` could start now: its agent Online and able to hold a data channel."""
        agent = self._managed_agent(region, account, target)
        if agent is None or agent.phase == "stopped" or agent.ping_status != ONLINE:
            return False
        assessment = self.fleet.assess_now(target)
        return bool(assessment and assessment.session_channel.passed)
