"""The fleet of simulated SSM Agents: one per running instance whose AMI ships the agent.

A background thread runs each agent's due attempts in simulated-time order. It sleeps until
the next attempt falls due or a request changes something (`wake`), never on a fixed tick, so
an idle emulator costs nothing whatever it holds. Instances that start, stop, reboot or
disappear are picked up from moto's EC2 backends (in this process) only after a change.

To decide an attempt, an agent reads the emulator's own state back through
`ssmlab.inventory.snapshot` over HTTP — exactly what a learner's `ssmlab` does — and judges
it with `ssmlab.registration.assess`. `snapshot(agent)` (ssm_extension) reuses the read-back
of the agent's VPC while nothing in its lab changed, and the fleet reuses the judgement
while the snapshot is the same, so a clock jump costs work in proportion to the attempts that
fall due, and a read-back only where something changed.
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections import deque
from typing import Any, Callable

from ssmlab.amis import PREINSTALLED, agent_status, platform_for
from ssmlab.emulator.agent import AGENT_START_DELAY, Agent, LogEntry
from ssmlab.emulator.clock import SimClock

log = logging.getLogger("ssmlab.emulator.fleet")

AGENT_VERSION_TAG = "ssmlab:agent-version"
# A recent 3.3 agent, as shipped on current Amazon Linux AMIs (simulated: the emulator does not
# know the real version of an AMI's agent). Tag an instance with ssmlab:agent-version to
# simulate another one, e.g. 3.2.582.0 to see why older agents need ec2messages.
SIMULATED_AGENT_VERSION = "3.3.1957.0"

MAX_STEPS_PER_PASS = 20_000  # a bound, so a huge clock jump can never spin forever
LOG_LIMIT = 20_000
# The longest the background loop sleeps without being woken: a safety net only, since every
# change that can bring an attempt forward wakes it (a request, a reboot, a new agent).
MAX_SLEEP = 60.0


class Fleet:
    def __init__(
        self,
        clock: SimClock,
        snapshot: Callable[[str, str], Any],
        assess: Callable[..., Any],
        discover: Callable[[], list[dict[str, Any]]],
        changes: Callable[[], int] | None = None,
    ) -> None:
        self.clock = clock
        self._snapshot = snapshot  # (agent) -> LabState of that instance's VPC
        self._assess = assess  # (state, instance_id, agent_version) -> Assessment
        # -> [{"instance_id", "region", "account_id", "vpc_id", "state", "ami_name", "tags"}]
        self._discover = discover
        # A counter that moves whenever a request may have changed instances (app.generation);
        # without one, every catch-up looks at the instances again.
        self._changes = changes
        self._synced: int | None = None
        self.agents: dict[str, Agent] = {}
        self.log: deque[LogEntry] = deque(maxlen=LOG_LIMIT)
        self.lock = threading.RLock()
        self._due: list[tuple[float, str]] = []  # (next_at, instance_id), stale entries skipped on pop
        self._judged: dict[str, tuple[Any, str, Any]] = {}  # instance -> (snapshot, version, assessment)
        # What the simulation has cost so far (GET /ssmlab/agents, `make bench`): attempts made,
        # judgements computed, read-backs of state over HTTP (counted by the snapshot function).
        self.work = {"attempts": 0, "judgements": 0, "read_backs": 0}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the background loop -----------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ssm-agent-fleet", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=5)

    def wake(self) -> None:
        """Something changed (a request, a reboot, a new agent): look again before sleeping on."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.catch_up()
            except Exception:  # one bad pass must not kill every agent; it is logged and retried
                log.exception("simulated agents: a pass failed")
            self._wake.wait(self.sleep_for())

    def sleep_for(self) -> float:
        """Wall seconds until the next attempt falls due (at most MAX_SLEEP)."""
        with self.lock:
            self._drop_stale()
            if not self._due:
                return MAX_SLEEP
            return min(MAX_SLEEP, max(0.0, self.clock.wall_seconds_until(self._due[0][0])))

    # -- what the API handlers call ----------------------------------------------------------

    def catch_up(self) -> None:
        """Bring the fleet to the present: new, stopped and terminated instances, then due attempts."""
        with self.lock:
            self._sync_if_changed()
            self._run_due()

    def advance(self, seconds: float) -> float:
        """Fast-forward simulated time, running every attempt that falls due on the way."""
        with self.lock:
            self._sync_if_changed()
            now = self.clock.advance(seconds)
            self._run_due()
            return now

    def reboot(self, instance_ids: list[str]) -> None:
        with self.lock:
            now = self.clock.now()
            for instance_id in instance_ids:
                agent = self.agents.get(instance_id)
                if agent is not None:
                    agent.restart(now, "the instance was rebooted")
                    self._flush(agent)
                    self._schedule(agent)

    def assess_now(self, instance_id: str) -> Any:
        """A fresh judgement for one instance (StartSession, SendCommand): the state as it is now."""
        agent = self.agents.get(instance_id)
        if agent is None:
            return None
        return self._judge(agent)

    def reachable(self, instance_id: str) -> bool:
        """Whether a command sent now reaches the instance's agent: over the control channel it holds."""
        agent = self.agents.get(instance_id)  # no lock around the judgement: it reads state back over HTTP
        return agent is not None and agent.holds_channel(self._judge(agent))

    def booting(self, instance_id: str) -> bool:
        """Whether the instance's agent has yet to make its first attempt since the instance (re)started."""
        with self.lock:
            agent = self.agents.get(instance_id)
            return agent is not None and agent.phase == "booting"

    def state_for(self, instance_id: str) -> Any:
        agent = self.agents.get(instance_id)
        return None if agent is None else self._snapshot(agent)

    def to_json(self, instance_id: str | None = None) -> dict[str, Any]:
        with self.lock:
            agents = [a for a in self.agents.values() if instance_id in (None, a.instance_id)]
            entries = [e for e in self.log if instance_id in (None, e.instance_id)]
            shown = [a.to_json() for a in agents]
            if instance_id is not None:  # one instance: its log files too, as the instance holds them
                for item, agent in zip(shown, agents):
                    item["files"] = agent.files.to_json()
            return {
                "clock": self.clock.to_json(),
                "work": dict(self.work),
                "agents": shown,
                "log": [e.to_json() for e in entries],
            }

    # -- internals ---------------------------------------------------------------------------

    def _sync_if_changed(self) -> None:
        """Look at the instances again only when a request may have changed them."""
        seen = self._changes() if self._changes else None
        if seen is None or seen != self._synced:
            self._sync()
            self._synced = seen

    def _sync(self) -> None:
        now = self.clock.now()
        seen = set()
        for instance in self._discover():
            instance_id = instance["instance_id"]
            seen.add(instance_id)
            running = instance["state"] == "running"
            agent = self.agents.get(instance_id)
            if agent is None:
                agent = self._new_agent(instance, now) if running else None
                if agent is None:
                    continue
            elif running and agent.phase == "stopped":
                agent.restart(now, "the instance was started")
            elif not running and agent.phase != "stopped":
                agent.stop(now, f"the instance is {instance['state']}")
            agent.private_ip = instance.get("private_ip") or agent.private_ip
            agent.vpc_id = instance.get("vpc_id") or agent.vpc_id
            agent.tags = instance.get("tags") or {}
            self._flush(agent)
            self._schedule(agent)
        for instance_id in [i for i in self.agents if i not in seen]:  # terminated and gone
            del self.agents[instance_id]
            self._judged.pop(instance_id, None)

    def _new_agent(self, instance: dict[str, Any], now: float) -> Agent | None:
        platform = platform_for(instance.get("ami_name"))
        # An AMI whose agent AWS confirms neither way (AL2023 minimal, amis.py) runs none here: the
        # simulation's choice, so the doctor's "unconfirmed" warning comes with a node that does not appear.
        if platform is None or agent_status(instance.get("ami_name")) != PREINSTALLED:
            return None  # this AMI has no agent
        version = (instance.get("tags") or {}).get(AGENT_VERSION_TAG, SIMULATED_AGENT_VERSION)
        agent = Agent(
            instance_id=instance["instance_id"],
            region=instance["region"],
            account_id=instance["account_id"],
            version=version,
            platform=platform,
            next_at=now + AGENT_START_DELAY,
        )
        agent.note(now, "boot", "info", f"instance running; the agent (version {version}) starts in {AGENT_START_DELAY:.0f} s")
        self.agents[agent.instance_id] = agent
        return agent

    def _schedule(self, agent: Agent) -> None:
        """Queue the agent's next attempt (once per time), and wake the loop: it may be sooner than its sleep."""
        if agent.next_at != float("inf") and agent.queued_at != agent.next_at:
            heapq.heappush(self._due, (agent.next_at, agent.instance_id))
            agent.queued_at = agent.next_at
            self._wake.set()

    def _drop_stale(self) -> None:
        """Pop queue entries whose agent is gone or has been rescheduled since."""
        while self._due:
            at, instance_id = self._due[0]
            agent = self.agents.get(instance_id)
            if agent is not None and agent.next_at == at:
                return
            heapq.heappop(self._due)

    def _run_due(self) -> None:
        now = self.clock.now()
        for _ in range(MAX_STEPS_PER_PASS):
            self._drop_stale()
            if not self._due or self._due[0][0] > now:
                return
            at, instance_id = heapq.heappop(self._due)
            agent = self.agents[instance_id]
            self.work["attempts"] += 1
            agent.step(at, lambda agent=agent: self._judge(agent))
            self._flush(agent)
            self._schedule(agent)
        log.warning("simulated agents: stopped a pass after %d attempts", MAX_STEPS_PER_PASS)

    def _judge(self, agent: Agent) -> Any:
        """The assessment of the agent's instance, reused while its snapshot is the same object."""
        state = self._snapshot(agent)
        kept = self._judged.get(agent.instance_id)
        if kept is not None and kept[0] is state and kept[1] == agent.version:
            return kept[2]
        assessment = self._assess(state, agent.instance_id, agent_version=agent.version)
        self.work["judgements"] += 1
        self._judged[agent.instance_id] = (state, agent.version, assessment)
        return assessment

    def _flush(self, agent: Agent) -> None:
        """Move the agent's new log entries to the fleet's log (one timeline for all agents)."""
        if agent.log:
            self.log.extend(agent.log)
            agent.log.clear()
