"""A managed node, from the learner's side: wait for it, run a command, start and end a session.

These work on both targets through the public APIs (DescribeInstanceInformation,
SendCommand, StartSession); on the emulator, the wait also shows what the simulated
agent is doing, so "it connects only after a while" has a visible reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ssmlab.aws import error_code, explain, explained
from ssmlab.errors import LabError
from ssmlab.lab import Lab


@dataclass(frozen=True)
class ManagedNode:
    instance_id: str
    ping_status: str
    agent_version: str
    platform: str
    ip_address: str


@dataclass(frozen=True)
class CommandResult:
    command_id: str
    instance_id: str
    status: str
    output: str


@dataclass(frozen=True)
class Session:
    session_id: str
    instance_id: str
    stream_url: str
    status: str
    token: str = ""  # TokenValue: opens stream_url once (ssmlab.session.client)


def node_information(lab: Lab, instance_id: str) -> dict | None:
    """The instance's DescribeInstanceInformation entry, or None while it is not a managed node."""
    with explained(f"asking Systems Manager about {instance_id}"):
        items = lab.client("ssm").describe_instance_information(
            Filters=[{"Key": "InstanceIds", "Values": [instance_id]}]
        )["InstanceInformationList"]
    return items[0] if items else None


def _agent_reason(lab: Lab, instance_id: str, info: dict | None) -> str:
    if lab.is_emulator:
        from ssmlab.emulator import control

        agents = control.agents(lab, instance_id)["agents"]
        if not agents:
            return "no SSM Agent on this instance (its AMI does not ship one) or it is not running"
        return agents[0]["last_reason"]
    if info is None:
        return "not registered yet: the agent starts, reads its role from IMDS, then calls ssm:UpdateInstanceInformation"
    return f"PingStatus {info['PingStatus']}"


def wait_until_managed(lab: Lab, instance_id: str, timeout: float = 300.0, poll: float | None = None) -> ManagedNode:
    """Wait (with a progress bar) until the node is Online in Systems Manager; say why if it never is."""
    from ssmlab.progress import bar as progress_bar

    poll = poll if poll is not None else (0.5 if lab.is_emulator else 10.0)
    started = time.monotonic()
    reason = "waiting for the agent"
    with progress_bar(round(timeout), f"{instance_id} managed?", unit="s") as bar:
        while True:
            info = node_information(lab, instance_id)
            if info and info.get("PingStatus") == "Online":
                bar.total = max(1, round(time.monotonic() - started))  # a full bar: the wait is over
                bar.update(bar.total - bar.n)
                bar.set_postfix_str("Online")
                return ManagedNode(
                    instance_id=instance_id,
                    ping_status=info["PingStatus"],
                    agent_version=info.get("AgentVersion", ""),
                    platform=f"{info.get('PlatformName', '')} {info.get('PlatformVersion', '')}".strip(),
                    ip_address=info.get("IPAddress", ""),
                )
            reason = _agent_reason(lab, instance_id, info)
            bar.set_postfix_str(reason[:80])
            elapsed = time.monotonic() - started
            if elapsed >= timeout:
                raise LabError(f"{instance_id} is not a managed node after {timeout:.0f} s; the agent's last reason: {reason}")
            time.sleep(min(poll, max(0.0, timeout - elapsed)))
            bar.update(round(time.monotonic() - started) - bar.n)


def run_command(lab: Lab, instance_id: str, commands: list[str], timeout: float = 120.0) -> CommandResult:
    """Run shell commands through Run Command (AWS-RunShellScript) and wait for the result."""
    from botocore.exceptions import ClientError, WaiterError

    ssm = lab.client("ssm")
    try:
        command_id = ssm.send_command(
            InstanceIds=[instance_id],
            DocumentName="AWS-RunShellScript",
            Parameters={"commands": commands},
            Comment="ssmlab run_command",
        )["Command"]["CommandId"]
    except ClientError as error:
        if error_code(error) == "InvalidInstanceId":
            raise LabError(
                f"Run Command refused {instance_id}: it is not an Online managed node yet "
                "(wait_until_managed first, or see why the agent cannot register)"
            ) from error
        raise explain(error, "sending the command") from error
    delay = 1 if lab.is_emulator else 3
    try:
        ssm.get_waiter("command_executed").wait(
            CommandId=command_id,
            InstanceId=instance_id,
            WaiterConfig={"Delay": delay, "MaxAttempts": max(1, int(timeout / delay))},
        )
    except WaiterError:
        pass  # the invocation below says how it ended
    with explained("reading the command's result"):
        invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
    return CommandResult(command_id, instance_id, invocation["Status"], invocation.get("StandardOutputContent", ""))


def start_session(lab: Lab, instance_id: str, reason: str | None = None, document: str | None = None,
                  parameters: dict[str, list[str]] | None = None) -> Session:
    """Start a Session Manager session through the API (what the console's Connect button does first); a
    `document` such as AWS-StartPortForwardingSession, with its `parameters`, for other kinds of session."""
    from botocore.exceptions import ClientError

    ssm = lab.client("ssm")
    extra = {**({"Reason": reason} if reason else {}), **({"DocumentName": document} if document else {}),
             **({"Parameters": parameters} if parameters else {})}
    try:
        started = ssm.start_session(Target=instance_id, **extra)
    except ClientError as error:
        if error_code(error) == "TargetNotConnected":
            raise LabError(
                f"StartSession: {instance_id} is not connected: the agent holds no channel on ssmmessages "
                "(a node can be Online for Run Command and still refuse sessions; an instance that has just started "
                f"needs a little while first): `ssmlab doctor --instance-id {instance_id} --region {lab.region}` says why"
            ) from error
        raise explain(error, "starting the session") from error
    session_id = started["SessionId"]
    failed = _find_session(lab, session_id, "History")
    if failed is not None and failed["Status"] == "Failed":
        raise LabError(f"session {session_id} failed to start: {failed.get('Details') or 'no reason given'}")
    return Session(session_id, instance_id, started.get("StreamUrl", ""), "Connected", started.get("TokenValue", ""))


def end_session(lab: Lab, session_id: str) -> None:
    with explained(f"terminating the session {session_id}"):
        lab.client("ssm").terminate_session(SessionId=session_id)


def _find_session(lab: Lab, session_id: str, state: str) -> dict[str, Any] | None:
    with explained("describing the session"):
        sessions = lab.client("ssm").describe_sessions(
            State=state, Filters=[{"key": "SessionId", "value": session_id}]
        )["Sessions"]
    return sessions[0] if sessions else None
