"""The AWS CLI commands findings give as their fix, built from the snapshot they were found in (pure).

Shared by the doctor and the checks beside it (`encryption`), so one command is written once.
"""

from __future__ import annotations

from ssmlab import netpath
from ssmlab.model import Instance, LabState


def create_endpoint_command(state: LabState, instance: Instance, service: str) -> str:
    """The command that gives `instance` an interface endpoint for `service` in its subnet, with the lab's
    endpoint security group (any interface endpoint's) and private DNS: the fix where the path found none."""
    group = next((e.group_ids[0] for e in state.endpoints if e.endpoint_type == "Interface" and e.group_ids),
                 "ENDPOINT_SG")
    return (f"aws ec2 create-vpc-endpoint --vpc-id {instance.vpc_id} --vpc-endpoint-type Interface --service-name "
            f"{netpath.service_name(service, state.region)} --subnet-ids {instance.subnet_id or 'SUBNET_ID'} "
            f"--security-group-ids {group} --private-dns-enabled")
