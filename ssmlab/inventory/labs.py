"""Every lab in a region, found by its tag, with its age: what `ssmlab cleanup --all-labs --older-than` chooses from.

For instructors after a class: each lab is named by the values of the `ssmlab:lab` tag on
VPCs, instances and endpoints, and dated by the oldest creation time that can be read.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ssmlab.aws import describe_all, explained, get_or_none
from ssmlab.lab import Lab
from ssmlab.model import GONE_ENDPOINT_STATES, LAUNCHED_STATES, TAG_KEY, FoundLab


def find_labs(lab: Lab) -> list[FoundLab]:
    """Every lab in `lab`'s region, by the values of the ssmlab:lab tag on VPCs, instances and endpoints, with the
    oldest creation time that can be read (instance launch, endpoint creation, role creation); a lab with none of
    these (a bare network) has no known age and is never removed by age."""
    from ssmlab.steps.iam import IAM_PATH

    ec2, iam = lab.client("ec2"), lab.client("iam")
    times: dict[str, list[datetime]] = {}

    def seen(tags: list[dict] | None, when: datetime | None) -> None:
        for tag in tags or []:
            if tag.get("Key") == TAG_KEY and tag.get("Value"):
                times.setdefault(tag["Value"], [])
                if when is not None:
                    times[tag["Value"]].append(when)

    has_tag = [{"Name": "tag-key", "Values": [TAG_KEY]}]
    with explained(f"finding the labs in {lab.region} by their {TAG_KEY} tag"):
        for vpc in describe_all(ec2, "describe_vpcs", "Vpcs", Filters=has_tag):
            seen(vpc.get("Tags"), None)
        for reservation in describe_all(
            ec2, "describe_instances", "Reservations",
            Filters=has_tag + [{"Name": "instance-state-name", "Values": LAUNCHED_STATES}],
        ):
            for instance in reservation["Instances"]:
                seen(instance.get("Tags"), instance.get("LaunchTime"))
        for endpoint in describe_all(ec2, "describe_vpc_endpoints", "VpcEndpoints", Filters=has_tag):
            if str(endpoint.get("State", "")).lower() not in GONE_ENDPOINT_STATES:
                seen(endpoint.get("Tags"), endpoint.get("CreationTimestamp"))
        # IAM is global: a role tells the age of a lab found here, never that a lab lives in this region.
        for role in describe_all(iam, "list_roles", "Roles", PathPrefix=IAM_PATH):
            owner = next((n for n in times if role["RoleName"].startswith(f"{n}-")), None)
            if owner is None:
                continue
            tags = (get_or_none(iam.list_role_tags, RoleName=role["RoleName"]) or {}).get("Tags", [])
            if {"Key": TAG_KEY, "Value": owner} in [{"Key": t.get("Key"), "Value": t.get("Value")} for t in tags]:
                seen(tags, role.get("CreateDate"))
    return sorted(
        (FoundLab(name, min(when) if when else None) for name, when in times.items()),
        key=lambda f: (f.created or datetime.max.replace(tzinfo=timezone.utc), f.name),
    )
