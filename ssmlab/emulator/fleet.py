"""The fleet of simulated SSM Agents: one per running instance whose AMI ships the agent.

A background thread watches moto's EC2 backends (in this process) for instances that
start, stop, reboot or disappear, and runs each agent's due attempts in simulated-time
order. To decide an attempt, an agent reads the emulator's own state back through
`ssmlab.inventory.snapshot` over HTTP — exactly what a learner's `ssmlab` does — and
judges it with `ssmlab.registration.assess`. Snapshots are shared by the agents of one
VPC within one pass, so a pass costs one snapshot per VPC, not per instance.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any, Callable

from ssmlab.amis import platform_for
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


class Fleet:
    def __init__(
        self,
        clock: SimClock,
        snapshot: Callable[[str, str], Any],
        assess: Callable[..., Any],
        discover: Callable[[], list[dict[str, Any]]],
        tick: float = 0.1,
    ) -> None:
        self.clock = clock
        self._snapshot = snapshot  # (region, instance_id) -> LabState of that instance's VPC
        self._assess = assess  # (state, instance_id, agent_version) -> Assessment
        self._discover = discover  # -> [{"instance_id", "region", "account_id", "state", "ami_name", "tags"}]
        self.tick = tick
        self.agents: dict[str, Agent] = {}
        self.log: deque[LogEntry] = deque(maxlen=LOG_LIMIT)
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the background loop -----------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ssm-agent-fleet", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.catch_up()
            except Exception:  # one bad pass must not kill every agent; it is logged and retried
                log.exception("simulated agents: a pass failed")

    # -- what the API handlers call ----------------------------------------------------------

    def catch_up(self) -> None:
        """Bring the fleet to the present: new, stopped and terminated instances, then due attempts."""
        with self.lock:
            self._sync()
            self._run_due()

    def advance(self, seconds: float) -> float:
        """Fast-forward simulated time, running every attempt that falls due on the way."""
        with self.lock:
            self._sync()
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

    def assess_now(self, instance_id: str) -> Any:
        """A fresh judgement for one instance (StartSession, SendCommand): the state as it is now."""
        agent = self.agents.get(instance_id)
        if agent is None:
            return None
        state = self._snapshot(agent.region, instance_id)
        return self._assess(state, instance_id, agent_version=agent.version)

    def booting(self, instance_id: str) -> bool:
        """Whether the instance's agent has yet to make its first attempt since the instance (re)started."""
        with self.lock:
            agent = self.agents.get(instance_id)
            return agent is not None and agent.phase == "booting"

    def state_for(self, instance_id: str) -> Any:
        agent = self.agents.get(instance_id)
        return None if agent is None else self._snapshot(agent.region, instance_id)

    def to_json(self, instance_id: str | None = None) -> dict[str, Any]:
        with self.lock:
            agents = [a for a in self.agents.values() if instance_id in (None, a.instance_id)]
            entries = [e for e in self.log if instance_id in (None, e.instance_id)]
            return {
                "clock": self.clock.to_json(),
                "agents": [a.to_json() for a in agents],
                "log": [e.to_json() for e in entries],
            }

    # -- internals ---------------------------------------------------------------------------

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
            agent.tags = instance.get("tags") or {}
            self._flush(agent)
        for instance_id in [i for i in self.agents if i not in seen]:  # terminated and gone
            del self.agents[instance_id]

    def _new_agent(self, instance: dict[str, Any], now: float) -> Agent | None:
        platform = platform_for(instance.get("ami_name"))
        if platform is None:
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

    def _run_due(self) -> None:
        now = self.clock.now()
        states: dict[str, Any] = {}  # instance id -> the snapshot of its VPC, for this pass
        for _ in range(MAX_STEPS_PER_PASS):
            due = [a for a in self.agents.values() if a.next_at <= now]
            if not due:
                return
            agent = min(due, key=lambda a: a.next_at)
            at = agent.next_at

            def assess(agent: Agent = agent) -> Any:
                state = states.get(agent.instance_id)
                if state is None:
                    state = self._snapshot(agent.region, agent.instance_id)
                    for instance in getattr(state, "instances", ()):
                        states[instance.instance_id] = state
                    states.setdefault(agent.instance_id, state)
                return self._assess(state, agent.instance_id, agent_version=agent.version)

            agent.step(at, assess)
            self._flush(agent)
        log.warning("simulated agents: stopped a pass after %d attempts", MAX_STEPS_PER_PASS)

    def _flush(self, agent: Agent) -> None:
        """Move the agent's new log entries to the fleet's log (one timeline for all agents)."""
        if agent.log:
            self.log.extend(agent.log)
            agent.log.clear()
