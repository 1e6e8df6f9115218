"""The fleet's scheduling, in-process with hand-made instances and judgements (no moto, no network):
a clock jump steps only the attempts that fall due, judgements are reused while the state read
back is the same, and the background loop sleeps until the next attempt instead of ticking."""

from __future__ import annotations

from builders import FakeAssessment

from ssmlab.emulator.agent import AGENT_START_DELAY, PING_INTERVAL
from ssmlab.emulator.clock import SimClock
from ssmlab.emulator.fleet import MAX_SLEEP, Fleet

AL2023 = "al2023-ami-2023.6.20241010.0-kernel-6.1-x86_64"


class World:
    """What the fleet reads: instances (as moto_state lists them), snapshots, judgements; counted."""

    def __init__(self, instances: int, vpcs: int = 1):
        self.instances = [
            {"instance_id": f"i-{n:04d}", "region": "ap-northeast-1", "account_id": "123456789012",
             "vpc_id": f"vpc-{n % vpcs}", "state": "running", "ami_name": AL2023, "private_ip": f"10.0.0.{n}",
             "tags": {"ssmlab:lab": f"lab-{n % vpcs}"}}
            for n in range(instances)
        ]
        self.generation = 0
        self.discovered = self.snapshots = self.judged = 0
        self.states: dict[str, object] = {}

    def discover(self):
        self.discovered += 1
        return [dict(i) for i in self.instances]

    def snapshot(self, agent):
        self.snapshots += 1
        return self.states.setdefault(agent.vpc_id, object())

    def assess(self, state, instance_id, agent_version):
        self.judged += 1
        return FakeAssessment()

    def fleet(self, clock):
        return Fleet(clock, self.snapshot, self.assess, self.discover, changes=lambda: self.generation)


def frozen_clock(scale=10.0):
    return SimClock(scale, wall=lambda: 0.0, monotonic=lambda: 0.0)


def test_a_clock_jump_steps_each_due_attempt_once_in_time_order():
    world = World(50, vpcs=50)
    fleet = world.fleet(frozen_clock())
    fleet.advance(AGENT_START_DELAY + 30 * 60)  # start, then six pings each
    attempts = [e for e in fleet.log if e.step in ("register", "ping")]
    assert len(attempts) == 50 * 7
    assert [e.time for e in attempts] == sorted(e.time for e in attempts)
    assert all(a.online for a in fleet.agents.values())


def test_judgements_are_reused_while_the_state_read_back_is_the_same():
    world = World(50, vpcs=50)
    fleet = world.fleet(frozen_clock())
    fleet.advance(AGENT_START_DELAY + 30 * 60)
    assert world.judged == 50  # one per instance, not one per attempt (350)
    world.states.pop("vpc-7")  # lab-7 changed: its read-back is a new object
    fleet.advance(PING_INTERVAL)
    assert world.judged == 51


def test_instances_are_looked_at_again_only_after_a_change():
    world = World(3)
    fleet = world.fleet(frozen_clock())
    for _ in range(5):
        fleet.catch_up()
    assert world.discovered == 1
    world.instances[0]["state"] = "stopped"
    world.generation += 1
    fleet.catch_up()
    assert world.discovered == 2 and fleet.agents["i-0000"].phase == "stopped"


def test_the_loop_sleeps_until_the_next_attempt_in_wall_time():
    world = World(2)
    fleet = world.fleet(frozen_clock(scale=10.0))
    fleet.catch_up()
    assert fleet.sleep_for() == AGENT_START_DELAY / 10  # the agents start in 20 simulated s: 2 wall s
    fleet.advance(AGENT_START_DELAY)
    assert fleet.sleep_for() == PING_INTERVAL / 10  # next ping in 5 simulated minutes: 30 wall s
    world.instances.clear()
    world.generation += 1
    fleet.catch_up()
    assert fleet.agents == {} and fleet.sleep_for() == MAX_SLEEP  # nothing to do: sleep until woken


def test_a_reboot_brings_the_next_attempt_forward_and_wakes_the_loop():
    world = World(1)
    fleet = world.fleet(frozen_clock())
    fleet.advance(AGENT_START_DELAY + 1)
    fleet._wake.clear()
    fleet.reboot(["i-0000"])
    assert fleet._wake.is_set() and fleet.sleep_for() == AGENT_START_DELAY / 10
