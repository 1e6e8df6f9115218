"""Everything ssmlab adds to moto, installed on the emulator's app in one place.

Each module keeps its own concern (moto fixes, the simulated agents, ...); this list is
the order they wrap moto in. Returns what the server must start and stop with it.
"""

from __future__ import annotations

from typing import Any


def install_all(app: Any, clock: Any) -> Any:
    """Install every extension on `app`; returns the simulated agents' fleet."""
    from . import ec2_fixes, eice, iam_fixes, idempotency, moto_speed, pricing
    from .ssm_extension import install as install_agents

    moto_speed.install()  # tag look-ups cost one resource's tags; per-request look-ups made once
    ec2_fixes.install(app)  # endpoint interfaces and DNS, AWS's validation and dependency rules
    eice.install(app)  # EC2 Instance Connect Endpoint
    # Around everything that answers AWS requests (handlers and moto); the fault injector,
    # installed after install_all, wraps it in turn, so a faulted request never reaches it.
    idempotency.install(app)  # EC2 ClientToken: a retried create answers with what it made
    iam_fixes.install(app)  # ListInstanceProfiles' PathPrefix, ListInstanceProfileTags
    pricing.install(app)  # the Price List API, from ssmlab/data/prices.json
    return install_agents(app, clock)
