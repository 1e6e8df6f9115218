"""The emulator's answers on its simulated clock: instances' launch times and every answer's Date header.

The simulated agents live on the simulated clock (clock.py), which runs faster than the wall
clock and jumps on request. What a client measures an agent's timing with must be on that
clock too: an instance's LaunchTime (moto takes it from `utcnow` in its instances module, and
so its state-transition reasons and network-interface attach times), and the answer's Date
header, which is how a client learns the service's time (`ssmlab.lab.service_time`), as it
does from AWS. Other resources' timestamps (endpoints, roles, log events) keep moto's wall
clock: the simulation's choice, since nothing times an agent by them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import formatdate
from typing import Any

from ssmlab.emulator.clock import SimClock


def install(app: Any, clock: SimClock) -> None:
    """moto's instances module takes its times from the simulated clock (the Date header: server.py)."""
    import moto.ec2.models.instances as instances

    def utcnow() -> datetime:  # moto's naive UTC datetime, simulated
        return datetime.fromtimestamp(clock.now(), timezone.utc).replace(tzinfo=None)

    instances.utcnow = utcnow


def http_date(when: SimClock | float) -> str:
    """An HTTP Date header's value for a simulated clock's now, or for a timestamp."""
    return formatdate(when.now() if isinstance(when, SimClock) else when, usegmt=True)
