"""Where moto's EC2 is more permissive than AWS in a way that would teach something false.

FACTS.md (measured with moto 5.2.5): ModifyVpcEndpoint ignores PrivateDnsEnabled, so
"turn private DNS off and watch the agent fail" would silently do nothing.
"""

from __future__ import annotations

from typing import Any

from ssmlab.emulator.hooks import after


def install(app: Any) -> None:
    after(app, "ec2", "ModifyVpcEndpoint", _private_dns)


def _private_dns(request: Any) -> None:
    value = request.params.get("PrivateDnsEnabled")
    if value is None:
        return
    from moto.ec2.models import ec2_backends

    endpoint = ec2_backends[request.account_id][request.region].vpc_end_points.get(request.params.get("VpcEndpointId"))
    if endpoint is not None:
        endpoint.private_dns_enabled = str(value).lower() == "true"
