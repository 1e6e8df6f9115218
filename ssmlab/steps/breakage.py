"""Break the lab on purpose, one sticking point at a time (notebook 09), and the extra pieces it needs.

Each breakage is one AWS call a learner could have made by hand (or a Terraform sample could
have made for them). The repairs are the build steps themselves: running a step again puts
back what it owns (the endpoint SG's ingress, private DNS, a missing endpoint). The sticking
points the steps cannot repair are about time — an instance that booted before its endpoints
(its agent hibernates), an instance profile attached after the agent started (its credential
refresher sleeps) — so this module also launches those instances, attaches the profile,
reboots them, and removes them again.
"""

from __future__ import annotations

from ssmlab.aws import describe_all, explained, wait
from ssmlab.errors import LabError
from ssmlab.lab import Lab
from ssmlab.steps import endpoints as endpoint_step
from ssmlab.steps.instance import AL2023_PARAMETER, LIVE_STATES, run_instance

LATE_PROFILE_ROLE = "late-profile"
"""The Name-tag role of the extra instance launched without a profile (`<lab>-late-profile`)."""
EARLY_ROLE = "before-endpoints"
"""The Name-tag role of the extra instance launched before the lab's endpoints (`<lab>-before-endpoints`)."""


def _group(lab: Lab, role: str) -> dict:
    with explained(f"looking up the security group {lab.name}-{role}"):
        groups = describe_all(lab.client("ec2"), "describe_security_groups", "SecurityGroups",
                              Filters=[lab.tag_filter, {"Name": "group-name", "Values": [f"{lab.name}-{role}"]}])
    if not groups:
        raise LabError(f"lab {lab.name} has no security group {lab.name}-{role}: build the security-groups step first")
    return groups[0]


def find_endpoint(lab: Lab, service: str) -> dict | None:
    with explained(f"looking up the {service} endpoint"):
        found = describe_all(lab.client("ec2"), "describe_vpc_endpoints", "VpcEndpoints", Filters=[
            lab.tag_filter,
            {"Name": "service-name", "Values": [endpoint_step.service_name(lab, service)]},
            {"Name": "vpc-endpoint-state", "Values": ["pendingAcceptance", "pending", "available"]},
        ])
    return found[0] if found else None


def permissions_for_port(permissions: list[dict], port: int) -> list[dict]:
    """The permissions (as describe_security_groups lists them) that let tcp `port` through: all traffic, or tcp
    with a port range holding it."""
    return [p for p in permissions
            if p.get("IpProtocol") in ("-1", "tcp", "6") and p.get("FromPort", port) <= port <= p.get("ToPort", port)]


def remove_endpoint_ingress(lab: Lab) -> str:
    """Revoke every inbound tcp/443 rule of the endpoint SG: what the sourceless Terraform ingress block leaves."""
    group = _group(lab, "endpoints")
    rules = permissions_for_port(group.get("IpPermissions", []), 443)
    if rules:
        with explained(f"revoking the inbound HTTPS rules of {group['GroupId']}"):
            lab.client("ec2").revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=rules)
    return group["GroupId"]


def private_dns_off(lab: Lab, service: str = "ssm") -> str:
    """Turn private DNS off on one endpoint: the service's public name then resolves to public addresses."""
    endpoint = find_endpoint(lab, service)
    if endpoint is None:
        raise LabError(f"lab {lab.name} has no {service} endpoint: build the endpoints step first")
    with explained(f"turning private DNS off on {endpoint['VpcEndpointId']}"):
        lab.client("ec2").modify_vpc_endpoint(VpcEndpointId=endpoint["VpcEndpointId"], PrivateDnsEnabled=False)
    return endpoint["VpcEndpointId"]


def delete_endpoint(lab: Lab, service: str = "ssmmessages") -> str | None:
    """Delete one interface endpoint (and wait until its network interfaces are gone); None if there was none."""
    endpoint = find_endpoint(lab, service)
    if endpoint is None:
        return None
    ec2 = lab.client("ec2")
    with explained(f"deleting the {service} endpoint {endpoint['VpcEndpointId']}"):
        ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])
    return endpoint["VpcEndpointId"]


def launch_without_profile(lab: Lab) -> str:
    """A second instance like the lab's, but with no instance profile: its agent starts without credentials.

    Idempotent: an existing one (found by its Name tag) is returned.
    """
    return _launch_extra(lab, LATE_PROFILE_ROLE, "09's instance without a profile", profile=False)


def launch_before_endpoints(lab: Lab) -> str:
    """What an all-at-once apply can do: the instance boots while its endpoints are not there yet. The lab's
    ssm and ssmmessages endpoints are deleted (the endpoints step makes them again), then a second instance
    like the lab's is launched, with the profile. Idempotent: an existing one is returned."""
    existing = extra_instance(lab, EARLY_ROLE)
    if existing:
        return existing
    for service in endpoint_step.SESSION_MANAGER_SERVICES:
        delete_endpoint(lab, service)
    return _launch_extra(lab, EARLY_ROLE, "09's instance launched before its endpoints", profile=True)


def _launch_extra(lab: Lab, role: str, why: str, *, profile: bool) -> str:
    ec2 = lab.client("ec2")
    existing = extra_instance(lab, role)
    if existing:
        return existing
    group = _group(lab, "instance")
    with explained("looking up the lab's subnet"):
        subnets = describe_all(ec2, "describe_subnets", "Subnets", Filters=[lab.tag_filter])
    if not subnets:
        raise LabError(f"lab {lab.name} has no subnet: build the network step first")
    with explained(f"reading the public parameter {AL2023_PARAMETER}"):
        image = lab.client("ssm").get_parameter(Name=AL2023_PARAMETER)["Parameter"]["Value"]
    request = dict(
        ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1,
        SubnetId=sorted(subnets, key=lambda s: s["AvailabilityZone"])[0]["SubnetId"],
        SecurityGroupIds=[group["GroupId"]],
        MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 2},
        TagSpecifications=lab.tag_specifications("instance", role),
    )
    if profile:
        from ssmlab.steps import iam

        request["IamInstanceProfile"] = {"Name": iam.profile_name(lab)}
    with explained(f"launching {why}"):
        instance_id = run_instance(lab, why, request)["InstanceId"]
    wait(lab, "ec2", "instance_running", InstanceIds=[instance_id])
    return instance_id


def late_profile_instance(lab: Lab) -> str | None:
    return extra_instance(lab, LATE_PROFILE_ROLE)


def extra_instance(lab: Lab, role: str) -> str | None:
    """The live extra instance 08 launched with this Name-tag role, if any."""
    with explained(f"looking up the instance {lab.name}-{role}"):
        reservations = describe_all(lab.client("ec2"), "describe_instances", "Reservations", Filters=[
            lab.tag_filter, {"Name": "tag:Name", "Values": [f"{lab.name}-{role}"]},
            {"Name": "instance-state-name", "Values": LIVE_STATES},
        ])
    found = [i["InstanceId"] for r in reservations for i in r["Instances"]]
    return found[0] if found else None


def attach_profile(lab: Lab, instance_id: str) -> str:
    """Attach the lab's instance profile to a running instance (what a learner does after the fact)."""
    from ssmlab.steps import iam

    ec2 = lab.client("ec2")
    with explained(f"reading the instance profile associations of {instance_id}"):
        current = ec2.describe_iam_instance_profile_associations(
            Filters=[{"Name": "instance-id", "Values": [instance_id]}, {"Name": "state", "Values": ["associating", "associated"]}]
        )["IamInstanceProfileAssociations"]
    if current:
        return current[0]["IamInstanceProfile"]["Arn"]
    with explained(f"looking up the instance profile {iam.profile_name(lab)}"):
        arn = lab.client("iam").get_instance_profile(InstanceProfileName=iam.profile_name(lab))["InstanceProfile"]["Arn"]
    with explained(f"attaching {iam.profile_name(lab)} to {instance_id}"):
        ec2.associate_iam_instance_profile(InstanceId=instance_id, IamInstanceProfile={"Arn": arn})
    return arn


def reboot(lab: Lab, instance_id: str) -> None:
    """Reboot: the agent restarts and reads its credentials from IMDS at once."""
    with explained(f"rebooting {instance_id}"):
        lab.client("ec2").reboot_instances(InstanceIds=[instance_id])


def terminate(lab: Lab, instance_id: str) -> None:
    """Terminate an extra instance and wait until it is gone (the lab keeps exactly one instance)."""
    with explained(f"terminating {instance_id}"):
        lab.client("ec2").terminate_instances(InstanceIds=[instance_id])
    wait(lab, "ec2", "instance_terminated", InstanceIds=[instance_id])

