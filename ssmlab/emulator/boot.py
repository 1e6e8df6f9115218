"""EC2 status checks while an instance boots: `initializing` until its simulated SSM Agent has started.

On AWS, DescribeInstanceStatus reports the instance and system status checks as
`initializing` for a while after an instance starts (the API's status values: ok | impaired
| insufficient-data | not-applicable | initializing; EC2 User Guide, "Status checks for
Amazon EC2 instances"), and the SSM Agent starts as the operating system comes up. moto
answers `ok` at once. The doctor uses this signal, on either target, to tell "the agent has
not started yet: wait" from "every check passes yet the node is not managed: reboot".

The simulation's own choice: the checks read `initializing` exactly while the instance's
simulated agent is booting (from a launch, a start or a reboot until its first attempt,
`agent.AGENT_START_DELAY` simulated seconds), then `ok`. An instance whose AMI ships no agent
keeps moto's answer.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

INITIALIZING = {"Status": "initializing", "Details": [{"Name": "reachability", "Status": "initializing"}]}


@functools.cache
def _booting_class(base: type) -> type:
    """moto's instance class with the checks initializing; named as moto's (its serializer aliases attributes
    by the class's name: `InstanceId` is read from `Instance.id`)."""
    return type(base.__name__, (base,), {"instance_status": INITIALIZING, "system_status": INITIALIZING})


def _booting(instance: Any) -> Any:
    """A copy of a moto instance as DescribeInstanceStatus shows it while it boots (moto's own is untouched)."""
    shown = copy.copy(instance)
    shown.__class__ = _booting_class(type(instance))
    return shown


def install(fleet: Any) -> None:
    """Wrap moto's DescribeInstanceStatus once per process; `fleet` says which agents are still booting."""
    from moto.ec2.models import EC2Backend

    original = EC2Backend.describe_instance_status
    if getattr(original, "_ssmlab", False):
        original = original.__wrapped__

    @functools.wraps(original)
    def describe_instance_status(self: Any, *args: Any, **kwargs: Any) -> list[Any]:
        fleet.catch_up()  # an instance launched a moment ago has its agent by now
        return [_booting(i) if fleet.booting(i.id) else i for i in original(self, *args, **kwargs)]

    describe_instance_status._ssmlab = True  # type: ignore[attr-defined]
    EC2Backend.describe_instance_status = describe_instance_status
