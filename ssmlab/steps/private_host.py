"""A private host the lab can add: a database server beside the instance, reached only through it.

Not part of `ssmlab build`: a notebook (or a test) calls `ensure(lab)` once the lab is built, then forwards
to the host through the instance (AWS-StartPortForwardingSessionToRemoteHost, `session.forward` with host=).
A security group <lab>-database admits tcp PORT from the instance's security group only (a source-group rule:
whatever address the instance has), and a t3.micro of the lab's AMI in the instance's subnet carries it; no
instance profile (it is never a managed node). Both carry the lab's tag, so `ssmlab cleanup` removes them.
What answers on it in the emulator: `instance.services.dial_host` (PostgreSQL on 5432).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from ssmlab.aws import describe_all, explained, get_or_none, only, wait
from ssmlab.errors import LabError
from ssmlab.lab import Lab
from ssmlab.steps import security_groups
from ssmlab.steps.instance import LIVE_STATES, ROLE as INSTANCE_ROLE, run_instance

ROLE = "database"
POSTGRES = 5432


@dataclass(frozen=True)
class PrivateHost:
    instance_id: str
    private_ip: str
    group_id: str
    port: int
    created: tuple[str, ...] = ()


def _instances(lab: Lab, role: str) -> list[dict]:
    with explained(f"looking up the lab's {role} instance"):
        reservations = describe_all(lab.client("ec2"), "describe_instances", "Reservations", Filters=[
            lab.tag_filter, {"Name": "tag:Name", "Values": [f"{lab.name}-{role}"]},
            {"Name": "instance-state-name", "Values": LIVE_STATES}])
    return [i for r in reservations for i in r["Instances"]]


def ensure(lab: Lab, port: int = POSTGRES) -> PrivateHost:
    """Find or create the database host and its security group (admitting tcp `port` from the instance's group)."""
    instance = only(_instances(lab, INSTANCE_ROLE), "instance", "InstanceId", lab)
    if instance is None:
        raise LabError(f"lab {lab.name} has no instance: build the lab first (ssmlab build)")
    instance_sg = instance["SecurityGroups"][0]["GroupId"]
    created: list[str] = []
    group = security_groups.ensure_group(
        lab, SimpleNamespace(vpc_id=instance["VpcId"]), {}, ROLE,
        f"ssmlab: the database host accepts tcp {port} from the instance's security group only", created)
    if not any(p.get("FromPort") == port and any(g.get("GroupId") == instance_sg for g in p.get("UserIdGroupPairs", []))
               for p in group.get("IpPermissions", [])):
        with explained(f"allowing tcp {port} from {instance_sg} into {group['GroupName']}"):
            get_or_none(lab.client("ec2").authorize_security_group_ingress, missing=("InvalidPermission.Duplicate",),
                        GroupId=group["GroupId"], IpPermissions=[{
                            "IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                            "UserIdGroupPairs": [{"GroupId": instance_sg, "Description": "from the lab's instance"}]}],
                        TagSpecifications=lab.tag_specifications("security-group-rule", f"{ROLE}-in"))
    security_groups.revoke_allow_all_egress(lab, group)  # replies need no rule: groups are stateful

    found = only(_instances(lab, ROLE), "database host", "InstanceId", lab)
    if found is None:
        found = run_instance(lab, "the lab's database host", dict(
            ImageId=instance["ImageId"], InstanceType="t3.micro", MinCount=1, MaxCount=1,
            SubnetId=instance["SubnetId"], SecurityGroupIds=[group["GroupId"]],
            MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
            TagSpecifications=lab.tag_specifications("instance", ROLE) + lab.tag_specifications("volume", f"{ROLE}-root")))
        created.append(found["InstanceId"])
    if found["State"]["Name"] != "running":
        wait(lab, "ec2", "instance_running", InstanceIds=[found["InstanceId"]])
    return PrivateHost(found["InstanceId"], found.get("PrivateIpAddress", ""), group["GroupId"], port, tuple(created))


def allow_instance_egress(lab: Lab, host: PrivateHost) -> bool:
    """Let the instance's security group send tcp `host.port` to the database host's group (a destination-group
    egress rule, tagged); True when the rule was added, False when it was there. The kit's instance group allows
    only HTTPS to the VPC out, so a forward to the database times out until this rule exists."""
    ec2 = lab.client("ec2")
    instance = only(_instances(lab, INSTANCE_ROLE), "instance", "InstanceId", lab)
    if instance is None:
        raise LabError(f"lab {lab.name} has no instance: build the lab first (ssmlab build)")
    group_id = instance["SecurityGroups"][0]["GroupId"]
    with explained(f"reading {group_id}'s outbound rules"):
        [group] = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    if any(p.get("FromPort") == host.port and any(g.get("GroupId") == host.group_id for g in p.get("UserIdGroupPairs", []))
           for p in group.get("IpPermissionsEgress", [])):
        return False
    with explained(f"allowing tcp {host.port} out of {group_id} to {host.group_id}"):
        added = get_or_none(ec2.authorize_security_group_egress, missing=("InvalidPermission.Duplicate",),
                            GroupId=group_id, IpPermissions=[{
                                "IpProtocol": "tcp", "FromPort": host.port, "ToPort": host.port,
                                "UserIdGroupPairs": [{"GroupId": host.group_id, "Description": "to the database host"}]}],
                            TagSpecifications=lab.tag_specifications("security-group-rule", f"{ROLE}-out"))
    return added is not None
