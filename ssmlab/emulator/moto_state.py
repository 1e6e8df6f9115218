"""Read-only views of moto's in-process backends that the simulated agents need.

Only the emulator process imports this (moto lives there). Everything the agents decide
is read back over the AWS API through `ssmlab.inventory`; this module only answers
"which instances exist, in which state, from which AMI" cheaply, many times a second.
"""

from __future__ import annotations

from typing import Any


def instances() -> list[dict[str, Any]]:
    """Every instance moto holds, in every account and region it has loaded."""
    from moto.ec2.models import ec2_backends

    found: list[dict[str, Any]] = []
    for account_id, regions in list(ec2_backends.items()):
        for region, backend in list(regions.items()):
            for instance in list(backend.all_instances()):
                ami = backend.amis.get(instance.image_id)
                found.append(
                    {
                        "instance_id": instance.id,
                        "region": region,
                        "account_id": account_id,
                        "state": instance.state,
                        "private_ip": instance.private_ip,
                        "vpc_id": getattr(instance, "vpc_id", None),
                        "ami_name": getattr(ami, "name", None),
                        "tags": {t["key"]: t["value"] for t in instance.get_tags()},
                    }
                )
    return found
