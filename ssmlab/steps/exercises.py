"""What each notebook's exercise prepares on the lab before the learner's turn: the change it asks them to undo
(DNS hostnames off, the endpoint group's ingress gone, the ssmmessages endpoint deleted, IMDSv1 allowed, no way
out to the database) or the role it asks them to write a policy for. Each is one AWS call a learner (or a
copied sample) could have made; running it again resets the exercise. The build steps put back what they own,
so a skipped exercise is repaired by the next notebook's `notebook.ensure`."""

from __future__ import annotations

import json
import time

from ssmlab.aws import describe_all, explained, get_or_none
from ssmlab.errors import LabError
from ssmlab.idempotent import create_or_adopt
from ssmlab.lab import Lab
from ssmlab.steps import breakage
from ssmlab.steps.iam import IAM_PATH

OPERATOR_ROLE = "operator"  # <lab>-operator: a person's role (what an SSO permission set makes), not the agent's


def dns_hostnames_off(lab: Lab) -> str:
    """Turn enableDnsHostnames off on the lab's VPC (the default for a VPC made without the console's wizard)."""
    ec2 = lab.client("ec2")
    with explained("looking up the lab's VPC"):
        vpcs = describe_all(ec2, "describe_vpcs", "Vpcs", Filters=[lab.tag_filter])
    if not vpcs:
        raise LabError(f"lab {lab.name} has no VPC: run the notebook's build cell first")
    with explained(f"turning enableDnsHostnames off on {vpcs[0]['VpcId']}"):
        ec2.modify_vpc_attribute(VpcId=vpcs[0]["VpcId"], EnableDnsHostnames={"Value": False})
    return vpcs[0]["VpcId"]


def endpoint_deleted(lab: Lab, service: str) -> None:
    """Delete the lab's endpoint for `service` and wait until it and its network interfaces are gone: on AWS a
    new endpoint with private DNS for the same service is refused while the old one still holds the name."""
    from ssmlab.teardown.execute import vpc_endpoint_gone

    ec2 = lab.client("ec2")
    found = breakage.find_endpoint(lab, service)
    if found is None:
        return
    breakage.delete_endpoint(lab, service)
    config = lab.waiter_config
    for _ in range(config["MaxAttempts"]):
        with explained(f"waiting for the {service} endpoint {found['VpcEndpointId']} to be deleted"):
            if vpc_endpoint_gone(ec2, found["VpcEndpointId"], tuple(found.get("NetworkInterfaceIds", []))):
                return
        time.sleep(config["Delay"])
    raise LabError(f"the {service} endpoint {found['VpcEndpointId']} was still being deleted after "
                   f"{config['Delay'] * config['MaxAttempts']} s: run the cell again in a minute")


def operator_role(lab: Lab) -> dict:
    """The role `<lab>-operator` a person would assume to reach the lab (trusting the account), under the kit's
    IAM path and tagged, so the lab's cleanup deletes it with its inline policies. Found or created."""
    iam = lab.client("iam")
    name = f"{lab.name}-{OPERATOR_ROLE}"
    with explained(f"looking up the role {name}"):
        found = get_or_none(iam.get_role, RoleName=name)
    if found is None:
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{lab.account_id}:root"}, "Action": "sts:AssumeRole"}]}
        found, _ = create_or_adopt(
            lab, "iam", f"creating the role {name}",
            lambda client: client.create_role(
                RoleName=name, Path=IAM_PATH, AssumeRolePolicyDocument=json.dumps(trust),
                Description=f"ssmlab {lab.name}: a person who may start sessions on the lab's instances",
                Tags=lab.tags(OPERATOR_ROLE)),
            lambda: get_or_none(iam.get_role, RoleName=name),
            exists=("EntityAlreadyExists",),
        )
    return found["Role"]


def metadata_tokens_optional(lab: Lab, instance_id: str) -> None:
    """Allow IMDSv1 again on the instance (HttpTokens=optional), as older launch templates leave it."""
    with explained(f"allowing IMDSv1 on {instance_id}"):
        lab.client("ec2").modify_instance_metadata_options(InstanceId=instance_id, HttpTokens="optional",
                                                           HttpEndpoint="enabled")


def egress_revoked(lab: Lab, group_id: str, port: int) -> int:
    """Revoke every outbound rule of `group_id` that lets tcp `port` out (the kit's 443-only rules do not);
    how many were revoked."""
    ec2 = lab.client("ec2")
    with explained(f"reading {group_id}'s outbound rules"):
        [group] = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    rules = breakage.permissions_for_port(group.get("IpPermissionsEgress", []), port)
    if rules:
        with explained(f"revoking {group_id}'s outbound rules to port {port}"):
            ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=rules)
    return len(rules)
