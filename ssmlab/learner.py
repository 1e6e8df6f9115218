"""The learner's IAM policy: what a participant needs to run every notebook on one lab, and nothing of another's.

The actions are the ones the notebooks call, recorded from the emulator's call log of a whole run
(`ssmlab/data/notebook_calls.json`; `tests/test_notebooks.py` fails when a run makes a call it does not list),
each mapped to its IAM action and scoped the way AWS lets it be scoped:
- what AWS cannot scope is allowed on "*": the EC2 Describe* actions have no resource-level permissions
  (EC2 User Guide, "IAM policies for Amazon EC2"; Service Authorization Reference), nor do DescribeInstanceInformation,
  DescribeSessions, ListAliases, DescribeLogGroups, tag:GetResources;
- EC2 creates need the lab's tag in the request (`aws:RequestTag/ssmlab:lab`) on the resource they create, and every
  existing resource they touch must carry it (`aws:ResourceTag/ssmlab:lab`): ABAC, the way AWS recommends scoping
  people to their own resources (IAM User Guide, "Define permissions based on attributes with ABAC authorization");
- names AWS checks before it knows tags (IAM roles and profiles, the log group, the bucket, the KMS alias) are
  scoped by their exact names: the kit's names for the lab (not a prefix: lab `a`'s prefix would cover lab `a-b`);
- sessions only on instances tagged with the lab (`ssm:resourceTag/ssmlab:lab`), with the documents the kit uses,
  and only one's own sessions to end (Session Manager User Guide, "Sample IAM policies for Session Manager").
One thing is shared by design: Session Manager's preferences are one document per account and Region
(`SSM-SessionManagerRunShell`), so every participant may update it and the kit's saved copies under /kit/ssmlab/.

Pure: the same JSON serves the emulator's class mode and `ssmlab policy learner --lab NAME` for a real account.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, Iterable

TAG_KEY = "ssmlab:lab"
ROLE_NAMES = ("ssm-instance-role", "operator")  # <lab>-...: steps.iam.role_name, steps.exercises.OPERATOR_ROLE
PROFILE_NAMES = ("ssm-instance-profile",)  # steps.iam.profile_name
PREFERENCES_DOCUMENT = "SSM-SessionManagerRunShell"
AWS_DOCUMENTS = ("AWS-StartPortForwardingSession", "AWS-StartPortForwardingSessionToRemoteHost",
                 "AWS-StartSSHSession", "AWS-RunShellScript")
IAM_PREFIX = {"resourcegroupstaggingapi": "tag"}  # botocore's service name -> IAM's, where they differ
# S3's API operations are authorised as these IAM actions (Amazon S3 User Guide, "Policy actions for Amazon S3").
S3_ACTIONS = {
    "HeadBucket": "s3:ListBucket", "ListObjects": "s3:ListBucket", "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions", "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration", "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock", "DeleteObjects": "s3:DeleteObject",
    "HeadObject": "s3:GetObject",
}
# What each EC2 create makes: its RequestTag condition is checked on that resource type.
CREATES = {
    "ec2:CreateVpc": "vpc", "ec2:CreateSubnet": "subnet", "ec2:CreateSecurityGroup": "security-group",
    "ec2:CreateRouteTable": "route-table", "ec2:CreateVpcEndpoint": "vpc-endpoint", "ec2:RunInstances": "instance",
    "ec2:CreateInstanceConnectEndpoint": "instance-connect-endpoint",
}

READ = "read"
CREATE = "create"  # the resource made, tagged in the request
TAGGED = "tagged"  # existing resources, by their tag
IMAGE = "image"  # launching from any image (AMIs belong to AWS)
AWS_POLICY = "aws-policy"
ROLE = "role"
PROFILE = "profile"
SESSION_TARGET = "session-target"
SESSION_DOCUMENT = "session-document"
OWN_SESSION = "own-session"
PREFERENCES = "preferences"
PUBLIC_PARAMETER = "public-parameter"
LOG_GROUP = "log-group"
BUCKET = "bucket"
KMS_CREATE = "kms-create"
KMS_KEY = "kms-key"
KMS_ALIAS = "kms-alias"
INSTANCE_CONNECT = "instance-connect"
TAG_ON_CREATE = "tag-on-create"

_EC2_READS = ("ec2:Describe", "ec2:GetManagedPrefixListEntries")
# IAM action -> the scopes that allow it (every resource it touches must be allowed by one of them).
SCOPES: dict[str, tuple[str, ...]] = {
    **{action: (CREATE, TAGGED) for action in CREATES},
    "ec2:RunInstances": (CREATE, TAGGED, IMAGE),
    "ec2:CreateTags": (TAG_ON_CREATE,),
    "iam:AddRoleToInstanceProfile": (PROFILE,), "iam:AttachRolePolicy": (ROLE,), "iam:CreateInstanceProfile": (PROFILE,),
    "iam:CreateRole": (ROLE,), "iam:DeleteInstanceProfile": (PROFILE,), "iam:DeleteRole": (ROLE,),
    "iam:DeleteRolePolicy": (ROLE,), "iam:DetachRolePolicy": (ROLE,), "iam:GetInstanceProfile": (PROFILE,),
    "iam:GetPolicy": (AWS_POLICY,), "iam:GetPolicyVersion": (AWS_POLICY,), "iam:GetRole": (ROLE,),
    "iam:GetRolePolicy": (ROLE,), "iam:ListAttachedRolePolicies": (ROLE,), "iam:ListRolePolicies": (ROLE,),
    "iam:PutRolePolicy": (ROLE,), "iam:RemoveRoleFromInstanceProfile": (PROFILE,), "iam:PassRole": (ROLE,),
    "iam:TagRole": (ROLE,), "iam:TagInstanceProfile": (PROFILE,), "iam:ListInstanceProfileTags": (PROFILE,),
    "iam:ListInstanceProfiles": (READ,), "iam:ListRoles": (READ,),
    "kms:CreateKey": (KMS_CREATE,), "kms:CreateAlias": (KMS_ALIAS, KMS_KEY), "kms:DeleteAlias": (KMS_ALIAS, KMS_KEY),
    "kms:ListAliases": (READ,),
    "logs:DescribeLogGroups": (READ,),
    "ssm:StartSession": (SESSION_TARGET, SESSION_DOCUMENT), "ssm:SendCommand": (SESSION_TARGET, SESSION_DOCUMENT),
    "ssm:TerminateSession": (OWN_SESSION,), "ssm:ResumeSession": (OWN_SESSION,),
    "ssm:DescribeInstanceInformation": (READ,), "ssm:DescribeSessions": (READ,), "ssm:GetCommandInvocation": (READ,),
    "ssm:ListCommandInvocations": (READ,), "ssm:ListCommands": (READ,), "ssm:GetConnectionStatus": (READ,),
    "ssm:GetServiceSetting": (READ,), "ssm:GetParameter": (PUBLIC_PARAMETER, PREFERENCES),
    "ssm:GetDocument": (PREFERENCES, SESSION_DOCUMENT),
    "ec2-instance-connect:SendSSHPublicKey": (INSTANCE_CONNECT,),
    "tag:GetResources": (READ,), "sts:GetCallerIdentity": (READ,), "pricing:GetProducts": (READ,),
    "pricing:DescribeServices": (READ,), "pricing:GetAttributeValues": (READ,),
}
_BY_PREFIX = {"ssm:": PREFERENCES, "logs:": LOG_GROUP, "s3:": BUCKET, "kms:": KMS_KEY, "ec2:": TAGGED}


def iam_action(service: str, action: str) -> str:
    """The IAM action an API call is authorised as: ("s3", "HeadBucket") -> "s3:ListBucket"."""
    if service == "s3" and action in S3_ACTIONS:
        return S3_ACTIONS[action]
    return f"{IAM_PREFIX.get(service, service)}:{action}"


def scopes(action: str) -> tuple[str, ...]:
    """How an IAM action is scoped for a learner (ValueError for an action of no known service)."""
    if action in SCOPES:
        return SCOPES[action]
    if action.startswith(_EC2_READS):
        return (READ,)
    prefix = action.split(":", 1)[0] + ":"
    if prefix not in _BY_PREFIX:
        raise ValueError(f"no learner scope for {action}: add it to ssmlab.learner.SCOPES")
    return (_BY_PREFIX[prefix],)


def notebook_calls() -> list[tuple[str, str]]:
    """The (service, action) pairs the notebooks call, as recorded from the emulator's call log, and the kit's
    calls a plain run does not make (each with why: a cleanup's or a repair's path)."""
    data = json.loads(resources.files("ssmlab").joinpath("data/notebook_calls.json").read_text())
    return [(service, action) for service, action in data["calls"]] + [(s, a) for s, a, _why in data["also"]]


def actions(calls: Iterable[tuple[str, str]] | None = None) -> list[str]:
    """The IAM actions of these calls (default: the notebooks'), with iam:PassRole (RunInstances and
    AssociateIamInstanceProfile pass the lab's role to EC2, and IAM authorises that separately)."""
    found = {iam_action(service, action) for service, action in (notebook_calls() if calls is None else calls)}
    if found & {"ec2:RunInstances", "ec2:AssociateIamInstanceProfile"}:
        found.add("iam:PassRole")
    if found & set(CREATES):  # tags given in a create are authorised as ec2:CreateTags (EC2 User Guide,
        found.add("ec2:CreateTags")  # "Grant permission to tag Amazon EC2 resources during creation")
    return sorted(found)


def policy(lab: str, *, partition: str = "aws", region: str = "*", account: str = "*",
           calls: Iterable[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The identity policy of lab `lab`'s participant: one statement per scope, each listing its actions."""
    grouped: dict[str, list[str]] = {}
    for action in actions(calls):
        for scope in scopes(action):
            grouped.setdefault(scope, []).append(action)
    arn = _Arns(partition, region, account, lab)
    statements = []
    for scope in _ORDER:
        if scope not in grouped:
            continue
        if scope == CREATE:
            by_type: dict[str, list[str]] = {}
            for action in grouped[scope]:
                by_type.setdefault(CREATES[action], []).append(action)
            statements += [_statement(f"Create{_camel(kind)}TaggedForTheLab", acts, arn.ec2(f"{kind}/*"),
                                      {"StringEquals": {f"aws:RequestTag/{TAG_KEY}": lab}})
                           for kind, acts in sorted(by_type.items())]
            continue
        statements.append(_statement(_SIDS[scope], grouped[scope], *_RULES[scope](arn)))
    return {"Version": "2012-10-17", "Statement": statements}


class _Arns:
    def __init__(self, partition: str, region: str, account: str, lab: str) -> None:
        self.p, self.r, self.a, self.lab = partition, region, account, lab

    def ec2(self, rest: str) -> str:
        return f"arn:{self.p}:ec2:{self.r}:{self.a}:{rest}"

    def iam(self, kind: str, names: Iterable[str]) -> list[str]:
        # With or without a path: role/<lab>-x and role/<path>/<lab>-x, never another lab's name.
        return [f"arn:{self.p}:iam::{self.a}:{kind}/{where}{self.lab}-{name}" for name in names for where in ("", "*/")]

    def ssm(self, rest: str, account: str | None = None) -> str:
        return f"arn:{self.p}:ssm:{self.r}:{self.a if account is None else account}:{rest}"


def _lab_tag(key: str, lab: str) -> dict[str, Any]:
    return {"StringEquals": {f"{key}/{TAG_KEY}": lab}}


_RULES = {
    READ: lambda a: (["*"], None),
    TAGGED: lambda a: (["*"], _lab_tag("aws:ResourceTag", a.lab)),
    IMAGE: lambda a: ([f"arn:{a.p}:ec2:{a.r}::image/*", a.ec2("volume/*"), a.ec2("network-interface/*")], None),
    AWS_POLICY: lambda a: ([f"arn:{a.p}:iam::aws:policy/*"], None),
    ROLE: lambda a: (a.iam("role", ROLE_NAMES), None),
    PROFILE: lambda a: (a.iam("instance-profile", PROFILE_NAMES), None),
    SESSION_TARGET: lambda a: ([a.ec2("instance/*")], _lab_tag("ssm:resourceTag", a.lab)),
    SESSION_DOCUMENT: lambda a: ([a.ssm(f"document/{d}", "") for d in AWS_DOCUMENTS]
                                 + [a.ssm(f"document/{PREFERENCES_DOCUMENT}")], None),
    OWN_SESSION: lambda a: ([a.ssm("session/${aws:username}-*")], None),
    PREFERENCES: lambda a: ([a.ssm(f"document/{PREFERENCES_DOCUMENT}"), a.ssm("parameter/kit/ssmlab"),
                             a.ssm("parameter/kit/ssmlab/*")], None),
    PUBLIC_PARAMETER: lambda a: ([a.ssm("parameter/aws/service/*", "")], None),
    LOG_GROUP: lambda a: ([f"arn:{a.p}:logs:{a.r}:{a.a}:log-group:/ssmlab/{a.lab}/sessions",
                           f"arn:{a.p}:logs:{a.r}:{a.a}:log-group:/ssmlab/{a.lab}/sessions:*"], None),
    BUCKET: lambda a: ([f"arn:{a.p}:s3:::ssmlab-{a.lab}-{a.a}-{a.r}", f"arn:{a.p}:s3:::ssmlab-{a.lab}-{a.a}-{a.r}/*"],
                       None),
    KMS_CREATE: lambda a: (["*"], {"StringEquals": {f"aws:RequestTag/{TAG_KEY}": a.lab}}),
    KMS_KEY: lambda a: ([f"arn:{a.p}:kms:{a.r}:{a.a}:key/*"], _lab_tag("aws:ResourceTag", a.lab)),
    KMS_ALIAS: lambda a: ([f"arn:{a.p}:kms:{a.r}:{a.a}:alias/ssmlab-{a.lab}-sessions"], None),
    INSTANCE_CONNECT: lambda a: ([a.ec2("instance/*")], _lab_tag("aws:ResourceTag", a.lab)),
    TAG_ON_CREATE: lambda a: ([a.ec2("*/*")], {"StringEquals": {
        "ec2:CreateAction": sorted(action.split(":", 1)[1] for action in CREATES)}}),
}
_SIDS = {
    READ: "ReadWhatCannotBeScoped", TAGGED: "ChangeOnlyTheLabsTaggedResources", IMAGE: "LaunchFromAnyImage",
    AWS_POLICY: "ReadAwsManagedPolicies", ROLE: "TheLabsRoles", PROFILE: "TheLabsInstanceProfile",
    SESSION_TARGET: "SessionsOnTheLabsInstances", SESSION_DOCUMENT: "SessionDocuments",
    OWN_SESSION: "EndOnlyOwnSessions", PREFERENCES: "SessionPreferencesSharedByTheAccount",
    PUBLIC_PARAMETER: "ReadPublicAmiParameters", LOG_GROUP: "TheLabsLogGroup", BUCKET: "TheLabsBucket",
    KMS_CREATE: "CreateKeysTaggedForTheLab", KMS_KEY: "UseOnlyTheLabsKeys", KMS_ALIAS: "TheLabsKeyAlias",
    INSTANCE_CONNECT: "PushKeysOnlyToTheLabsInstances", TAG_ON_CREATE: "TagOnlyWhenCreating",
}
_ORDER = (READ, CREATE, TAG_ON_CREATE, TAGGED, IMAGE, AWS_POLICY, ROLE, PROFILE, SESSION_TARGET, SESSION_DOCUMENT, OWN_SESSION,
          PREFERENCES, PUBLIC_PARAMETER, LOG_GROUP, BUCKET, KMS_CREATE, KMS_KEY, KMS_ALIAS, INSTANCE_CONNECT)


def _compact(acts: Iterable[str]) -> list[str]:
    """EC2's Describe actions as one `ec2:Describe*`: they are all readable everywhere, and listing each would take
    a third of the 6,144 characters a managed policy may have (IAM User Guide, "IAM and AWS STS quotas")."""
    found = set(acts)
    describes = {a for a in found if a.startswith("ec2:Describe")}
    return sorted(found - describes) + (["ec2:Describe*"] if describes else [])


def _statement(sid: str, acts: list[str], resources_: list[str], condition: dict | None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": _compact(acts),
                                 "Resource": resources_[0] if len(resources_) == 1 else resources_}
    if condition:
        statement["Condition"] = condition
    return statement


def _camel(kind: str) -> str:
    return "".join(part.capitalize() for part in kind.split("-"))
