"""The simulated agent's two log files, in the real agent's words and format.

`/var/log/amazon/ssm/amazon-ssm-agent.log`: seelog format "%Date(2006-01-02 15:04:05.0000)
%LEVEL %Msg" (aws/amazon-ssm-agent `agent/log/logger/defaultconfig.go`), messages prefixed
by the process ("[amazon-ssm-agent]" for the core agent, "[ssm-agent-worker]" for the
worker) and the module ("[CredentialRefresher]", "[HealthCheck]", "[MessageGatewayService]").
`/var/log/amazon/ssm/hibernate.log`: "%Date %Time %LEVEL %Msg"
(`agent/hibernation/hibernatelogger_unix.go`). Every message text below is the agent's own,
from the source file named beside it; the errors are those of aws-sdk-go v1, which the agent
uses. The simulation's own choices: times are the emulator's simulated clock in UTC, a
timeout is always reported as a dial timeout, a public address the emulator does not model is
written as "a public address of <name>", and each file keeps its last lines only
(`MAX_LINES`; the real files roll at 30 MB and 30 kB).
"""

from __future__ import annotations

import uuid
from collections import deque
from datetime import datetime, timezone
from typing import Any

from ssmlab import netpath, policy, registration

MAIN, HIBERNATE = "amazon-ssm-agent.log", "hibernate.log"
FILES = (MAIN, HIBERNATE)
DIRECTORY = "/var/log/amazon/ssm"
MAX_LINES = {MAIN: 2000, HIBERNATE: 200}

CORE, WORKER = "[amazon-ssm-agent]", "[ssm-agent-worker]"
REFRESHER, HEALTH, MGS = "[CredentialRefresher]", "[HealthCheck]", "[MessageGatewayService]"

_NO_CREDENTIALS = (registration.IMDS_DISABLED, registration.NO_INSTANCE_PROFILE, registration.ROLE_TRUST_MISSING_EC2)


class AgentFiles:
    """The two files, each a bounded list of lines."""

    def __init__(self) -> None:
        self.lines: dict[str, deque[str]] = {name: deque(maxlen=MAX_LINES[name]) for name in FILES}

    def main(self, when: float, level: str, *message: str) -> None:
        stamp = datetime.fromtimestamp(when, timezone.utc)
        self.lines[MAIN].append(f"{stamp:%Y-%m-%d %H:%M:%S}.{stamp.microsecond // 100:04d} {level} {' '.join(message)}")

    def hibernate(self, when: float, level: str, message: str) -> None:
        self.lines[HIBERNATE].append(f"{datetime.fromtimestamp(when, timezone.utc):%Y-%m-%d %H:%M:%S} {level} {message}")

    def to_json(self) -> dict[str, list[str]]:
        return {f"{DIRECTORY}/{name}": list(lines) for name, lines in self.lines.items()}


def request_error(check: Any, path: Any, instance_id: str, account_id: str, region: str) -> str:
    """The error the SDK gives the agent for a failed call to ssm: no credentials, access denied, or no connection."""
    code = getattr(check, "code", None)
    if code in _NO_CREDENTIALS:
        # aws-sdk-go v1, aws/credentials/ec2rolecreds: the provider the agent falls back to on EC2.
        return "EC2RoleRequestError: no EC2 instance role found"
    if code == registration.ROLE_MISSING_SSM_PERMISSIONS:
        caller = policy.assumed_role_arn(str(getattr(check, "resource", "") or ""), instance_id)
        return (f"AccessDeniedException: User: {caller} is not "
                f"authorized to perform: ssm:UpdateInstanceInformation on resource: "
                f"arn:aws:ec2:{region}:{account_id}:instance/{instance_id}\n\tstatus code: 400, request id: {uuid.uuid4()}")
    resolution = getattr(path, "resolution", None)
    host = getattr(resolution, "hostname", None) or netpath.hostname("ssm", region)
    if code == netpath.VPC_DNS_SUPPORT_DISABLED or getattr(resolution, "via", None) == "none":
        dial = f"dial tcp: lookup {host}: i/o timeout"
    else:
        addresses = getattr(resolution, "addresses", ()) or ()
        address = addresses[0] if addresses else f"(a public address of {host})"
        dial = f"dial tcp {address}:443: i/o timeout"
    return f'RequestError: send request failed\ncaused by: Post "https://{host}/": {dial}'


def control_channel_url(region: str, instance_id: str) -> str:
    """agent/session/service/service.go: wss://ssmmessages.<region>.amazonaws.com/v1/control-channel/<id>."""
    return f"wss://ssmmessages.{region}.amazonaws.com/v1/control-channel/{instance_id}?role=subscribe&stream=input"
