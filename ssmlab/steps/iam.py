"""Step 4, the instance's identity: a role EC2 may assume, the SSM core policy, an instance profile.

The agent reads the role's temporary credentials from IMDS (AWS Systems Manager User
Guide, "SSM Agent technical details"); AmazonSSMManagedInstanceCore grants what it needs,
among them ssm:UpdateInstanceInformation and the ssmmessages channel actions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from botocore.exceptions import ClientError

from ssmlab.aws import error_code, explained, get_or_none, wait
from ssmlab.idempotent import create_or_adopt
from ssmlab.lab import Lab

CORE_POLICY = "AmazonSSMManagedInstanceCore"
IAM_PATH = "/ssmlab/"
EC2_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@dataclass(frozen=True)
class InstanceRole:
    role_name: str
    role_arn: str
    profile_name: str
    profile_arn: str
    created: tuple[str, ...] = ()


def role_name(lab: Lab) -> str:
    return lab.iam_name("ssm-instance-role")


def profile_name(lab: Lab) -> str:
    return lab.iam_name("ssm-instance-profile")


def core_policy_arn(lab: Lab) -> str:
    return f"arn:{lab.partition}:iam::aws:policy/{CORE_POLICY}"


def ensure(lab: Lab) -> InstanceRole:
    """Find or create the role and profile; converge the trust policy and the attached core policy."""
    iam = lab.client("iam")
    created: list[str] = []
    name = role_name(lab)

    with explained(f"looking up the role {name}"):
        found = get_or_none(iam.get_role, RoleName=name)
    if found is None:
        found, new = create_or_adopt(
            lab, "iam", f"creating the role {name}",
            lambda client: client.create_role(
                RoleName=name,
                Path=IAM_PATH,
                AssumeRolePolicyDocument=json.dumps(EC2_TRUST_POLICY),
                Description=f"ssmlab {lab.name}: lets the SSM Agent on the lab instance register with Systems Manager",
                Tags=lab.tags("ssm-instance-role"),
            ),
            lambda: get_or_none(iam.get_role, RoleName=name),
            exists=("EntityAlreadyExists",),
        )
        if new:
            created.append(name)
        wait(lab, "iam", "role_exists", RoleName=name)
    role = found["Role"]
    if name not in created:  # a role found (or adopted) may have had its trust policy changed
        trust = role.get("AssumeRolePolicyDocument")
        if isinstance(trust, str):
            trust = json.loads(trust)
        if trust != EC2_TRUST_POLICY:
            with explained(f"restoring the trust policy of {name}"):
                iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(EC2_TRUST_POLICY))

    with explained(f"listing the policies attached to {name}"):
        attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]}
    if core_policy_arn(lab) not in attached:
        with explained(f"attaching {CORE_POLICY} to {name}"):
            iam.attach_role_policy(RoleName=name, PolicyArn=core_policy_arn(lab))

    pname = profile_name(lab)
    with explained(f"looking up the instance profile {pname}"):
        found_profile = get_or_none(iam.get_instance_profile, InstanceProfileName=pname)
    if found_profile is None:
        found_profile, new = create_or_adopt(
            lab, "iam", f"creating the instance profile {pname}",
            lambda client: client.create_instance_profile(
                InstanceProfileName=pname, Path=IAM_PATH, Tags=lab.tags("ssm-instance-profile")),
            lambda: get_or_none(iam.get_instance_profile, InstanceProfileName=pname),
            exists=("EntityAlreadyExists",),
        )
        if new:
            created.append(pname)
        wait(lab, "iam", "instance_profile_exists", InstanceProfileName=pname)
    profile = found_profile["InstanceProfile"]
    roles_in_profile = {r["RoleName"] for r in profile.get("Roles", [])}
    if name not in roles_in_profile:
        with explained(f"adding {name} to {pname}"):
            for other in roles_in_profile:  # a profile holds one role at most
                iam.remove_role_from_instance_profile(InstanceProfileName=pname, RoleName=other)
            try:
                iam.add_role_to_instance_profile(InstanceProfileName=pname, RoleName=name)
            except ClientError as error:  # LimitExceeded: a retry whose first attempt added it (or a race)
                now_in = {r["RoleName"] for r in iam.get_instance_profile(InstanceProfileName=pname)["InstanceProfile"]["Roles"]}
                if error_code(error) != "LimitExceeded" or name not in now_in:
                    raise
    return InstanceRole(name, role["Arn"], pname, profile["Arn"], tuple(created))


def ensure_inline_policy(lab: Lab, role_name: str, policy_name: str, document: dict, purpose: str) -> bool:
    """Put the role's inline policy `policy_name` unless it already reads `document`; True when it was written.
    `purpose` says what it grants, for the learner's error line."""
    iam = lab.client("iam")
    with explained(f"reading the policy {policy_name} of {role_name}"):
        found = get_or_none(iam.get_role_policy, RoleName=role_name, PolicyName=policy_name)
    current = found and found["PolicyDocument"]
    if isinstance(current, str):  # boto3 decodes it; the emulator or a proxy may hand it back as text
        current = json.loads(current)
    if current == document:
        return False
    with explained(f"granting {role_name} {purpose}"):
        iam.put_role_policy(RoleName=role_name, PolicyName=policy_name, PolicyDocument=json.dumps(document))
    return True
