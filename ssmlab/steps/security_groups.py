"""Step 2, two security groups: who may talk to the endpoints, and where the instance may go.

The agent polls out, so the instance needs no inbound rule at all, only outbound tcp/443
to the endpoints' network interfaces; the endpoint group admits tcp/443 from the VPC
(AWS Systems Manager User Guide, "Improve the security of EC2 instances by using VPC
endpoints"). Security groups are stateful: replies need no rule of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ssmlab.aws import describe_all, explained, get_or_none
from ssmlab.idempotent import create_or_adopt
from ssmlab.lab import Lab
from ssmlab.steps.network import Network

HTTPS = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}
ALLOW_ALL_EGRESS = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


@dataclass(frozen=True)
class SecurityGroups:
    endpoint_sg_id: str
    instance_sg_id: str
    created: tuple[str, ...] = ()


def has_rule(permissions: list[dict[str, Any]], protocol: str, port: int | None, cidr: str | None = None,
             prefix_list_id: str | None = None) -> bool:
    """Whether a describe_security_groups permission list holds this protocol/port rule for this peer."""
    for p in permissions:
        if p.get("IpProtocol") != protocol:
            continue
        if port is not None and (p.get("FromPort"), p.get("ToPort")) != (port, port):
            continue
        if cidr and any(r.get("CidrIp") == cidr for r in p.get("IpRanges", [])):
            return True
        if prefix_list_id and any(r.get("PrefixListId") == prefix_list_id for r in p.get("PrefixListIds", [])):
            return True
    return False


def ensure_https_rule(
    lab: Lab, group: dict[str, Any], direction: str, role: str, description: str,
    cidr: str | None = None, prefix_list_id: str | None = None,
) -> None:
    """Allow tcp/443 in (ingress) or out (egress) of `group` for a CIDR or a prefix list, unless already allowed."""
    key = "IpPermissions" if direction == "ingress" else "IpPermissionsEgress"
    if has_rule(group.get(key, []), "tcp", 443, cidr, prefix_list_id):
        return
    peer = (
        {"IpRanges": [{"CidrIp": cidr, "Description": description}]}
        if cidr
        else {"PrefixListIds": [{"PrefixListId": prefix_list_id, "Description": description}]}
    )
    ec2 = lab.client("ec2")
    authorize = ec2.authorize_security_group_ingress if direction == "ingress" else ec2.authorize_security_group_egress
    with explained(f"allowing {description} ({direction} of {group['GroupName']})"):
        # Duplicate: the rule is there already (a retry whose first attempt went through, or another build).
        get_or_none(authorize, missing=("InvalidPermission.Duplicate",),
                    GroupId=group["GroupId"],
                    IpPermissions=[{**HTTPS, **peer}],
                    TagSpecifications=lab.tag_specifications("security-group-rule", role))


def ensure(lab: Lab, network: Network) -> SecurityGroups:
    """Find or create both groups and make sure their rules are the ones the lab needs."""
    ec2 = lab.client("ec2")
    created: list[str] = []
    with explained("looking up the lab's security groups"):
        groups = describe_all(
            ec2,
            "describe_security_groups",
            "SecurityGroups",
            Filters=[{"Name": "vpc-id", "Values": [network.vpc_id]}, lab.tag_filter],
        )
    by_name = {g["GroupName"]: g for g in groups}

    endpoint_sg = ensure_group(
        lab, network, by_name, "endpoints",
        "ssmlab: interface endpoints accept HTTPS from inside the VPC", created,
    )
    instance_sg = ensure_group(
        lab, network, by_name, "instance",
        "ssmlab: the instance takes no inbound traffic and may only call HTTPS inside the VPC", created,
    )

    # Endpoint SG: inbound 443 from the VPC, and nothing else (an endpoint never starts a connection).
    ensure_https_rule(lab, endpoint_sg, "ingress", "endpoints-https-in", "HTTPS from the lab VPC", cidr=network.cidr)
    revoke_allow_all_egress(lab, endpoint_sg)

    # Instance SG: no inbound rule; outbound 443 to the VPC (where the endpoints' interfaces are) only.
    ensure_https_rule(lab, instance_sg, "egress", "instance-https-out", "HTTPS to the VPC endpoints", cidr=network.cidr)
    revoke_allow_all_egress(lab, instance_sg)
    return SecurityGroups(endpoint_sg["GroupId"], instance_sg["GroupId"], tuple(created))


def ensure_group(
    lab: Lab, network: Network, by_name: dict[str, dict], role: str, description: str, created: list[str]
) -> dict[str, Any]:
    name = f"{lab.name}-{role}"
    if name in by_name:
        return by_name[name]

    def find() -> dict[str, Any] | None:
        with explained(f"looking up the security group {name}"):
            found = describe_all(lab.client("ec2"), "describe_security_groups", "SecurityGroups", Filters=[
                {"Name": "vpc-id", "Values": [network.vpc_id]}, {"Name": "group-name", "Values": [name]}])
        return found[0] if found else None

    group, new = create_or_adopt(
        lab, "ec2", f"creating the security group {name}",
        lambda client: client.create_security_group(
            GroupName=name,
            Description=description,
            VpcId=network.vpc_id,
            TagSpecifications=lab.tag_specifications("security-group", role),
        ),
        find,
        exists=("InvalidGroup.Duplicate",),  # names are unique in a VPC: it is there already
    )
    if not new:
        return group
    created.append(group["GroupId"])
    # A new group comes with AWS's default allow-all egress rule, which the caller revokes.
    return {"GroupId": group["GroupId"], "GroupName": name, "IpPermissions": [], "IpPermissionsEgress": [ALLOW_ALL_EGRESS]}


def revoke_allow_all_egress(lab: Lab, group: dict[str, Any]) -> None:
    if has_rule(group.get("IpPermissionsEgress", []), "-1", None, "0.0.0.0/0"):
        with explained(f"revoking the default allow-all egress of {group['GroupName']}"):
            get_or_none(lab.client("ec2").revoke_security_group_egress, missing=("InvalidPermission.NotFound",),
                        GroupId=group["GroupId"], IpPermissions=[ALLOW_ALL_EGRESS])
