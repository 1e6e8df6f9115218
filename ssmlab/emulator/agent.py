"""One simulated SSM Agent: the real agent's start-up, credential, registration and ping cycle.

The agent does not decide anything about networks or IAM itself: each time it acts, it
asks `ssmlab.registration.assess` (netpath + policy over a snapshot of the emulator's own
state), the same code the doctor uses, so the two always agree. What the agent adds is
*time*: when it starts, how long it sleeps after a failure, when it pings.

Timings are simulated seconds (see clock.py), after the real agent's behaviour
(FACTS.md, "Session Manager prerequisites"):
- the service health-checks a node about every 5 minutes (User Guide, "Troubleshooting
  managed node availability");
- an agent that finds no role credentials logs it and its credential refresher sleeps for
  tens of minutes ("Sleeping for 25m42s" is quoted in public issues); a reboot or an agent
  restart makes it try again at once.
The start-up delay and the retry backoff are the simulation's own choices, not AWS figures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from ssmlab.lab import TAG_KEY

AGENT_START_DELAY = 20.0  # seconds from "running" to the agent's first attempt (simulation's choice)
CREDENTIAL_REFRESHER_SLEEP = 30 * 60.0  # "about 30 minutes" (FACTS.md: tens of minutes)
PING_INTERVAL = 5 * 60.0  # FACTS.md: the service health-checks a node about every 5 minutes
RETRY_BACKOFF = (10.0, 20.0, 40.0, 80.0, 160.0, 300.0)  # bounded: never longer than 5 minutes
CHANNEL_RETRY = 60.0  # a node that registered but has no control channel tries again every minute

ONLINE, CONNECTION_LOST = "Online", "ConnectionLost"


@dataclass(frozen=True)
class LogEntry:
    """One thing the agent did: what it tried, against what, and how it went."""

    time: float
    instance_id: str
    step: str  # boot | credentials | register | ping | control-channel | reboot | stop
    outcome: str  # ok | fail | sleep | info
    reason: str
    code: str | None = None
    service: str | None = None
    address: str | None = None

    def to_json(self) -> dict[str, Any]:
        from ssmlab.emulator.clock import iso

        return {**asdict(self), "time": iso(self.time)}


@dataclass
class Agent:
    instance_id: str
    region: str
    account_id: str
    version: str
    platform: dict[str, str]
    next_at: float
    private_ip: str = ""
    vpc_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    phase: str = "booting"  # booting | no-credentials | connecting | online | no-channel | connection-lost | stopped
    ping_status: str | None = None  # None until the node first registers
    registered_at: float | None = None
    last_ping: float | None = None
    control_channel: str | None = None  # the service holding the control channel, if any
    failures: int = 0
    last_reason: str = "starting"
    boots: int = 1
    log: list[LogEntry] = field(default_factory=list)
    queued_at: float | None = None  # the time the fleet's queue holds for this agent (fleet.py)

    @property
    def registered(self) -> bool:
        return self.registered_at is not None

    @property
    def online(self) -> bool:
        return self.ping_status == ONLINE

    def note(self, now: float, step: str, outcome: str, reason: str, **extra: Any) -> LogEntry:
        entry = LogEntry(now, self.instance_id, step, outcome, reason, **extra)
        self.log.append(entry)
        self.last_reason = reason
        return entry

    # -- life cycle (driven by the fleet from the instance's state) ----------------------

    def restart(self, now: float, why: str) -> None:
        """Reboot, or start after a stop: the agent starts again and retries everything at once."""
        self.boots += 1
        self.phase = "booting"
        self.control_channel = None
        self.failures = 0
        self.next_at = now + AGENT_START_DELAY
        self.note(now, "reboot", "info", f"{why}: the agent restarts and tries again in {AGENT_START_DELAY:.0f} s")

    def stop(self, now: float, why: str) -> None:
        self.phase = "stopped"
        self.control_channel = None
        if self.registered:
            self.ping_status = CONNECTION_LOST
        self.next_at = float("inf")
        self.note(now, "stop", "info", f"{why}: the agent is not running")

    # -- one attempt -----------------------------------------------------------------------

    def step(self, now: float, assess: Callable[[], Any]) -> None:
        """Act once (register or ping, then the control channel) and schedule the next attempt."""
        if self.phase == "stopped":
            return
        assessment = assess()
        if not assessment.credentials.passed:
            self._lose_connection()
            self.phase = "no-credentials"
            self.next_at = now + CREDENTIAL_REFRESHER_SLEEP
            self.note(now, "credentials", "fail", assessment.credentials.detail, code=assessment.credentials.code)
            self.note(
                now, "credentials", "sleep",
                f"the credential refresher sleeps for {CREDENTIAL_REFRESHER_SLEEP / 60:.0f} minutes; "
                "reboot the instance to make the agent try again now",
            )
            return

        step = "ping" if self.registered else "register"
        resolution = getattr(assessment.ssm_path, "resolution", None)
        target = dict(service="ssm", address=_address(resolution))
        if not assessment.registration.passed:
            self._lose_connection()
            self.phase = "connection-lost" if self.registered else "connecting"
            delay = RETRY_BACKOFF[min(self.failures, len(RETRY_BACKOFF) - 1)]
            self.failures += 1
            self.next_at = now + delay
            self.note(
                now, step, "fail", f"{assessment.registration.detail} (retrying in {delay:.0f} s)",
                code=assessment.registration.code, **target,
            )
            return

        self.failures = 0
        self.ping_status = ONLINE
        self.last_ping = now
        if not self.registered:
            self.registered_at = now
            self.note(now, "register", "ok", "UpdateInstanceInformation succeeded: the node is managed (Online)", **target)
        else:
            self.note(now, "ping", "ok", "the agent pinged Systems Manager (Online)", **target)
        self._open_channel(now, assessment)

    def _open_channel(self, now: float, assessment: Any) -> None:
        check = assessment.control_channel
        service = self._channel_service(assessment)
        if check.passed:
            if self.control_channel != service:
                self.note(now, "control-channel", "ok", f"control channel open on {service}", service=service)
            self.control_channel = service
            self.phase = "online"
            self.next_at = now + PING_INTERVAL
        else:
            self.control_channel = None
            self.phase = "no-channel"
            self.next_at = now + min(PING_INTERVAL, CHANNEL_RETRY)
            self.note(now, "control-channel", "fail", check.detail, code=check.code, service=service)

    def _channel_service(self, assessment: Any) -> str:
        """Where the control channel lives: ec2messages for agents older than 3.3.40.0; newer
        agents use ssmmessages and fall back to ec2messages only when ssmmessages fails."""
        from ssmlab.registration import agent_needs_ec2messages

        if agent_needs_ec2messages(self.version):
            return "ec2messages"
        ssmmessages = (getattr(assessment, "channel_paths", {}) or {}).get("ssmmessages")
        if assessment.control_channel.passed and not (ssmmessages is not None and ssmmessages.reachable):
            return "ec2messages"
        return "ssmmessages"

    def _lose_connection(self) -> None:
        self.control_channel = None
        if self.registered:
            self.ping_status = CONNECTION_LOST

    def to_json(self) -> dict[str, Any]:
        from ssmlab.emulator.clock import iso

        return {
            "instance_id": self.instance_id,
            "lab": self.tags.get(TAG_KEY),  # the instance's ssmlab:lab tag, if any
            "region": self.region,
            "agent_version": self.version,
            "platform": self.platform,
            "phase": self.phase,
            "ping_status": self.ping_status,
            "registered_at": iso(self.registered_at) if self.registered_at else None,
            "last_ping": iso(self.last_ping) if self.last_ping else None,
            "control_channel": self.control_channel,
            "next_attempt": iso(self.next_at) if self.next_at != float("inf") else None,
            "last_reason": self.last_reason,
            "boots": self.boots,
        }


def _address(resolution: Any) -> str | None:
    """Where the name resolved: the endpoint's private IPs, else the endpoint or 'public'."""
    if resolution is None:
        return None
    return ", ".join(resolution.addresses) or resolution.endpoint_id or resolution.via
