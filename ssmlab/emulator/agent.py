"""One simulated SSM Agent: the real agent's start-up, credentials, hibernation, pings and control channel.

The agent does not decide anything about networks or IAM itself: each time it acts, it
asks `ssmlab.registration.assess` (netpath + policy over a snapshot of the emulator's own
state), the same code the doctor uses, so the two always agree. What the agent adds is
*time*, after the real agent (aws/amazon-ssm-agent; FACTS.md, "Session Manager prerequisites"):
- the core agent starts its credential refresher and waits for credentials
  (`core/app/agent.go`); without a role the refresher logs "Retrieve credentials produced
  error" and sleeps (`core/app/credentialrefresher`; "Sleeping for 25m42s" is quoted in public
  issues): here 30 minutes, the simulation's choice of a figure;
- the worker then sends one empty health ping (`agent/agent.go`); if it fails, the agent
  hibernates and pings on `ssmlab.hibernation`'s schedule (5 min, then every 10, 20, 40 min,
  then hourly); the first ping that works starts it;
- a started agent reports its health every 5 minutes (`agent/health/healthcheck.go`),
  PingStatus turning ConnectionLost when a report fails, and opens its control channel on
  ssmmessages (ec2messages for agents older than 3.3.40.0);
- security groups track connections (EC2 User Guide, "Security group connection tracking"):
  an open control channel survives a security-group change that would refuse it now, and
  ends when the agent reconnects (restart, reboot, stop) or something cuts the established
  connection (the endpoint deleted, a stateless network ACL, lost credentials or permission);
- a reboot or an agent restart starts everything over at once.
The simulation's own choices: the start-up delay (20 s), the refresher's 30 minutes, and a
control channel that fails is retried every minute.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from ssmlab import hibernation, netpath
from ssmlab.emulator import agentlog
from ssmlab.emulator.agentlog import CORE, HEALTH, MGS, REFRESHER, WORKER
from ssmlab.lab import TAG_KEY

AGENT_START_DELAY = 20.0  # seconds from "running" to the agent's first attempt (simulation's choice)
CREDENTIAL_REFRESHER_SLEEP = 30 * 60.0  # "tens of minutes" (FACTS.md); 30 is the simulation's figure
PING_INTERVAL = float(hibernation.HEALTH_FREQUENCY)  # a started agent reports its health every 5 minutes
CHANNEL_RETRY = 60.0  # a started agent without a control channel tries again every minute (simulation's choice)

ONLINE, CONNECTION_LOST = "Online", "ConnectionLost"
# Failures that refuse a new connection but leave an established, tracked one alone: security
# groups are stateful (connection tracking), and a name is looked up only to connect.
TRACKED = (netpath.ENDPOINT_SG_BLOCKS_HTTPS, netpath.INSTANCE_SG_BLOCKS_HTTPS, netpath.ENDPOINT_PRIVATE_DNS_DISABLED,
           netpath.VPC_DNS_SUPPORT_DISABLED, netpath.VPC_DNS_HOSTNAMES_DISABLED)


@dataclass(frozen=True)
class LogEntry:
    """One thing the agent did: what it tried, against what, and how it went (the timeline's input)."""

    time: float
    instance_id: str
    step: str  # boot | credentials | register | ping | hibernate | control-channel | reboot | stop
    outcome: str  # ok | fail | sleep | info
    reason: str
    code: str | None = None
    service: str | None = None
    address: str | None = None
    until: float | None = None  # a sleep's planned end (None: until something else happens)
    label: str | None = None  # a sleep's few words for the picture

    def to_json(self) -> dict[str, Any]:
        from ssmlab.emulator.clock import iso

        return {**asdict(self), "time": iso(self.time), "until": iso(self.until) if self.until else None}


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
    # booting | no-credentials | hibernating | online | no-channel | connection-lost | stopped
    phase: str = "booting"
    ping_status: str | None = None  # None until the node first registers
    registered_at: float | None = None
    last_ping: float | None = None
    control_channel: str | None = None  # the service holding the control channel, if any
    credentials_ready: bool = False  # the core agent's credential refresher has credentials
    started: bool = False  # the worker's first ping worked: the agent runs (not hibernating)
    hibernating_since: float | None = None  # the failed start ping the hibernation schedule counts from
    hibernation_logged: int | None = None  # the back-off period whose first failure hibernate.log has
    last_reason: str = "starting"
    boots: int = 1
    log: list[LogEntry] = field(default_factory=list)
    files: agentlog.AgentFiles = field(default_factory=agentlog.AgentFiles)
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
        """Reboot, or start after a stop: the agent starts over and tries everything at once."""
        self.boots += 1
        self._reset(now)
        self.note(now, "reboot", "info", f"{why}: the agent restarts and tries again in {AGENT_START_DELAY:.0f} s")

    def stop(self, now: float, why: str) -> None:
        self._reset(now)
        if self.registered:
            self.ping_status = CONNECTION_LOST
        self.phase = "stopped"
        self.next_at = float("inf")
        self.note(now, "stop", "info", f"{why}: the agent is not running")

    def _reset(self, now: float) -> None:
        self.phase = "booting"
        self.control_channel = None
        self.credentials_ready = self.started = False
        self.hibernating_since = self.hibernation_logged = None
        self.next_at = now + AGENT_START_DELAY

    # -- one attempt -----------------------------------------------------------------------

    def step(self, now: float, assess: Callable[[], Any]) -> None:
        """Act once (whatever is due: credentials, the start ping, a hibernation ping, a health report,
        the control channel) and schedule the next attempt."""
        if self.phase == "stopped":
            return
        assessment = assess()
        if not self.credentials_ready and not self._credentials(now, assessment):
            return
        if self.started:
            self._report_health(now, assessment)
        elif self.hibernating_since is None:
            self._start_ping(now, assessment)
        else:
            self._hibernation_ping(now, assessment)

    def _credentials(self, now: float, assessment: Any) -> bool:
        """The core agent's start: its credential refresher must get the role's credentials first."""
        if self.phase == "booting":
            self.files.main(now, "INFO", CORE, f"amazon-ssm-agent - v{self.version}")
            self.files.main(now, "INFO", CORE, "Starting Core Agent")
            self.files.main(now, "INFO", CORE, REFRESHER, "credentialRefresher has started")
        check = assessment.credentials
        if check.passed:
            self.credentials_ready = True
            self.files.main(now, "INFO", CORE, REFRESHER, "Credentials ready")
            return True
        error = agentlog.request_error(check, None, self.instance_id, self.account_id, self.region)
        self.files.main(now, "ERROR", CORE, REFRESHER, f"Retrieve credentials produced error: {error}")
        self.files.main(now, "INFO", CORE, REFRESHER,
                        f"Sleeping for {CREDENTIAL_REFRESHER_SLEEP / 60:.0f}m0s before retrying retrieve credentials")
        self.phase = "no-credentials"
        self.next_at = now + CREDENTIAL_REFRESHER_SLEEP
        self.note(now, "credentials", "fail", check.detail, code=check.code)
        self.note(now, "credentials", "sleep",
                  f"the credential refresher sleeps for {CREDENTIAL_REFRESHER_SLEEP / 60:.0f} minutes; "
                  "reboot the instance to make the agent try again now",
                  until=self.next_at, label="credential refresher asleep")
        return False

    def _ping_error(self, assessment: Any) -> str:
        return agentlog.request_error(assessment.registration, assessment.ssm_path, self.instance_id,
                                      self.account_id, self.region)

    def _start_ping(self, now: float, assessment: Any) -> None:
        """agent/agent.go: one empty health ping; if it fails, hibernate."""
        target = self._target(assessment)
        if assessment.registration.passed:
            self._run(now, assessment, None)
            return
        error = self._ping_error(assessment)
        self.hibernating_since = now
        self.phase = "hibernating"
        self.files.main(now, "INFO", WORKER, f"Entering SSM Agent hibernate - {error}")
        self.files.hibernate(now, "INFO", "Agent is in hibernate mode. Reducing logging. "
                             "Logging will be reduced to one log per backoff period")
        self.note(now, "register", "fail", f"the start ping failed: {assessment.registration.detail}",
                  code=assessment.registration.code, **target)
        first = next(hibernation.steps())
        self.next_at = now + first.start
        self.note(now, "hibernate", "sleep", f"the agent hibernates: its next ping is in {first.start / 60:.0f} minutes "
                  f"({hibernation.SCHEDULE_TEXT}); reboot the instance to try again now",
                  until=self.next_at, label=f"hibernating: next ping in {first.start / 60:.0f} min")

    def _hibernation_ping(self, now: float, assessment: Any) -> None:
        """agent/hibernation/hibernation.go: a back-off period starts with a log line and a ping at once;
        a failure is logged once per period."""
        elapsed = now - self.hibernating_since
        step = hibernation.step_at(elapsed)
        period = _period(step, elapsed)
        if abs(elapsed - step.start) < 1e-3:
            self.files.hibernate(now, "INFO", step.log_line)
            self.note(now, "hibernate", "sleep", f"hibernation: {step.log_line}",
                      until=None if step.length is None else self.hibernating_since + step.start + step.length,
                      label=f"hibernating: a ping every {step.interval / 60:.0f} min")
        if assessment.registration.passed:
            self._run(now, assessment, "a hibernation ping went through: the agent leaves hibernation and starts")
            return
        if self.hibernation_logged != period:
            self.hibernation_logged = period
            self.files.hibernate(now, "ERROR", f"Health ping failed with error - {self._ping_error(assessment)}")
        self.note(now, "ping", "fail", f"hibernation ping failed: {assessment.registration.detail}",
                  code=assessment.registration.code, **self._target(assessment))
        self.next_at = self.hibernating_since + hibernation.next_ping(elapsed)

    def _run(self, now: float, assessment: Any, why: str | None) -> None:
        """The agent runs: it registers (its first health report) and opens its control channel."""
        self.started = True
        self.hibernating_since = self.hibernation_logged = None
        self.files.main(now, "INFO", WORKER, f"Starting Agent: amazon-ssm-agent - v{self.version}")
        if why:
            self.note(now, "boot", "info", why)
        self._report_health(now, assessment)

    def _report_health(self, now: float, assessment: Any) -> None:
        """agent/health/healthcheck.go: UpdateInstanceInformation every 5 minutes."""
        target = self._target(assessment)
        self.files.main(now, "INFO", WORKER, HEALTH, "HealthCheck reporting agent health.")
        step = "ping" if self.registered else "register"
        if not assessment.registration.passed:
            self.files.main(now, "ERROR", WORKER, HEALTH,
                            f"error when calling AWS APIs. error details - {self._ping_error(assessment)}")
            if self.registered:
                self.ping_status = CONNECTION_LOST
            self._keep_or_close_channel(now, assessment)
            self.phase = "connection-lost" if self.registered else "connecting"
            self.next_at = now + PING_INTERVAL
            self.note(now, step, "fail", f"{assessment.registration.detail} (the next report in "
                      f"{PING_INTERVAL / 60:.0f} minutes)", code=assessment.registration.code, **target)
            return
        self.ping_status = ONLINE
        self.last_ping = now
        if not self.registered:
            self.registered_at = now
            self.note(now, "register", "ok", "UpdateInstanceInformation succeeded: the node is managed (Online)", **target)
        else:
            self.note(now, "ping", "ok", "the agent reported its health to Systems Manager (Online)", **target)
        self._open_channel(now, assessment)

    def _open_channel(self, now: float, assessment: Any) -> None:
        check = assessment.control_channel
        service = self._channel_service(assessment)
        if self._keep_or_close_channel(now, assessment):
            self.phase = "online"
            self.next_at = now + PING_INTERVAL
            return
        if check.passed:
            self.files.main(now, "INFO", WORKER, MGS, f"Setting up websocket for controlchannel for instance: "
                            f"{self.instance_id}, requestId: {_request_id(self.instance_id, now)}")
            self.files.main(now, "INFO", WORKER, MGS,
                            f"Opening websocket connection to: {agentlog.control_channel_url(self.region, self.instance_id)}")
            address = _address(getattr(assessment.channel_paths.get(service), "resolution", None))
            self.files.main(now, "INFO", WORKER, MGS, f"Successfully opened websocket connection to: {address}:443")
            self.note(now, "control-channel", "ok", f"control channel open on {service}", service=service)
            self.control_channel = service
            self.phase = "online"
            self.next_at = now + PING_INTERVAL
        else:
            self.files.main(now, "ERROR", WORKER, MGS, f"Failed to get controlchannel token, error: {check.detail}")
            self.phase = "no-channel"
            self.next_at = now + min(PING_INTERVAL, CHANNEL_RETRY)
            self.note(now, "control-channel", "fail", check.detail, code=check.code, service=service)

    def _keep_or_close_channel(self, now: float, assessment: Any) -> bool:
        """Whether the control channel the agent holds stays open: yes while a new one would work, or while
        only something that spares tracked connections refuses a new one (connection tracking)."""
        if self.control_channel is None:
            return False
        check = assessment.control_channel
        if _uncut(check):  # kept; when a new one works, on the service it would use (else _open_channel moves it)
            return not check.passed or self._channel_service(assessment) == self.control_channel
        self.files.main(now, "ERROR", WORKER, MGS, f"failed to reconnect to the control channel with error: {check.detail}")
        self.note(now, "control-channel", "fail", f"the control channel on {self.control_channel} closed: {check.detail}",
                  code=check.code, service=self.control_channel)
        self.control_channel = None
        return False

    def holds_channel(self, assessment: Any) -> bool:
        """Whether a message can reach the agent now: it holds a control channel nothing has cut since."""
        return self.control_channel is not None and self.phase != "stopped" and _uncut(assessment.control_channel)

    def _target(self, assessment: Any) -> dict[str, Any]:
        return dict(service="ssm", address=_address(getattr(assessment.ssm_path, "resolution", None)))

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


def _uncut(check: Any) -> bool:
    """Whether an established control channel outlives what `check` found: nothing, or only what refuses new
    connections (TRACKED)."""
    return check.passed or check.code in TRACKED


def _period(step: hibernation.Step, elapsed: float) -> int:
    """Which back-off period `elapsed` falls in: hibernate.log logs one failure per period. The last step's
    period ends once more after three hours (hibernation.go resets isLogged when it tries to back off again)."""
    index = int(step.start)
    if step.length is None and elapsed >= step.start + step.interval * hibernation.BACKOFF_RATE:
        index += 1
    return index


def _request_id(instance_id: str, now: float) -> str:
    """A request id for the log line (a UUID in the real agent); deterministic, so logs compare in tests."""
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{instance_id}/{now}"))
