"""Step 6 (optional), session logging: the audit trail that is Session Manager's reason to exist.

Session transcripts go to CloudWatch Logs and/or S3, as the Session Manager preferences
document `SSM-SessionManagerRunShell` says. From a private subnet the agent reaches them
through the logs interface endpoint and the S3 gateway endpoint (free); when the instance
security group restricts egress, S3 through a gateway endpoint needs egress to the S3
prefix list. The role needs permission to write there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ssmlab.aws import explained, get_or_none
from ssmlab.lab import Lab
from ssmlab.steps import endpoints as endpoint_step
from ssmlab.steps.iam import InstanceRole
from ssmlab.steps.network import Network
from ssmlab.steps.security_groups import SecurityGroups, ensure_https_rule

PREFERENCES_DOCUMENT = "SSM-SessionManagerRunShell"
DESTINATIONS = ("cloudwatch", "s3")
LOG_RETENTION_DAYS = 30


@dataclass(frozen=True)
class SessionLogging:
    log_group: str | None
    bucket: str | None
    logs_endpoint_id: str | None
    s3_endpoint_id: str | None
    document_name: str
    created: tuple[str, ...] = ()


def log_group_name(lab: Lab) -> str:
    return f"/ssmlab/{lab.name}/sessions"


def bucket_name(lab: Lab) -> str:
    """Bucket names are global: the account and region make the lab's one unique (<= 59 chars)."""
    return f"ssmlab-{lab.name}-{lab.account_id}-{lab.region}"


def backup_parameter(lab: Lab) -> str:
    """Where the preferences that existed before the lab are kept, so teardown can restore them.

    Parameter names may not begin with "ssm" or "aws" (SSM API reference, PutParameter), and a
    lab's name may, so the path starts with a fixed segment.
    """
    return f"/kit/ssmlab/{lab.name}/previous-session-preferences"


def preferences(log_group: str | None, bucket: str | None) -> dict:
    """The Session Manager preferences document (schema 1.0, Standard_Stream)."""
    return {
        "schemaVersion": "1.0",
        "description": "Session Manager preferences set by ssmlab: transcripts to the lab's log group and bucket",
        "sessionType": "Standard_Stream",
        "inputs": {
            "s3BucketName": bucket or "",
            "s3KeyPrefix": "sessions/" if bucket else "",
            "s3EncryptionEnabled": bool(bucket),
            "cloudWatchLogGroupName": log_group or "",
            "cloudWatchEncryptionEnabled": False,
            "cloudWatchStreamingEnabled": bool(log_group),
            "idleSessionTimeout": "20",
            "runAsEnabled": False,
            "shellProfile": {"windows": "", "linux": ""},
        },
    }


def ensure(
    lab: Lab,
    network: Network,
    groups: SecurityGroups,
    role: InstanceRole,
    destinations: tuple[str, ...] = DESTINATIONS,
) -> SessionLogging:
    """Log group and/or bucket, their endpoints, the instance's route to them, the role's permissions, the preferences."""
    created: list[str] = []
    log_group = _ensure_log_group(lab, created) if "cloudwatch" in destinations else None
    bucket = _ensure_bucket(lab, created) if "s3" in destinations else None

    logs_endpoint_id = s3_endpoint_id = None
    if log_group:
        logs = endpoint_step.ensure_interface_endpoints(lab, network, groups.endpoint_sg_id, ("logs",))
        logs_endpoint_id = logs.endpoints[0].endpoint_id
        created.extend(logs.created)
    if bucket:
        s3_endpoint_id, new = endpoint_step.ensure_gateway_endpoint(lab, network, "s3")
        if new:
            created.append(s3_endpoint_id)
        _ensure_s3_egress(lab, groups)

    _ensure_role_permissions(lab, role, log_group, bucket)
    document_created = _ensure_preferences(lab, preferences(log_group, bucket))
    if document_created:
        created.append(PREFERENCES_DOCUMENT)
    return SessionLogging(log_group, bucket, logs_endpoint_id, s3_endpoint_id, PREFERENCES_DOCUMENT, tuple(created))


def _ensure_log_group(lab: Lab, created: list[str]) -> str:
    logs = lab.client("logs")
    name = log_group_name(lab)
    with explained(f"looking up the log group {name}"):
        groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    if not any(g["logGroupName"] == name for g in groups):
        with explained(f"creating the log group {name}"):
            logs.create_log_group(logGroupName=name, tags={t["Key"]: t["Value"] for t in lab.tags("session-logs")})
            logs.put_retention_policy(logGroupName=name, retentionInDays=LOG_RETENTION_DAYS)
        created.append(name)
    return name


ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
BLOCK_ALL_PUBLIC_ACCESS = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def _ensure_bucket(lab: Lab, created: list[str]) -> str:
    """Encrypted (SSE-S3) and with every kind of public access blocked."""
    s3 = lab.client("s3")
    name = bucket_name(lab)
    with explained(f"looking up the bucket {name} (a 403 means another account owns the name)"):
        exists = get_or_none(s3.head_bucket, missing=("404", "NoSuchBucket", "NotFound"), Bucket=name) is not None
    if not exists:
        with explained(f"creating the bucket {name}"):
            kwargs = {} if lab.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": lab.region}}
            s3.create_bucket(Bucket=name, **kwargs)
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": lab.tags("session-logs")})
        created.append(name)
    with explained(f"securing the bucket {name}"):
        missing = ("ServerSideEncryptionConfigurationNotFoundError", "NoSuchPublicAccessBlockConfiguration")
        encryption = None if not exists else get_or_none(s3.get_bucket_encryption, missing=missing, Bucket=name)
        if (encryption or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules") != ENCRYPTION["Rules"]:
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=ENCRYPTION)
        block = None if not exists else get_or_none(s3.get_public_access_block, missing=missing, Bucket=name)
        if (block or {}).get("PublicAccessBlockConfiguration") != BLOCK_ALL_PUBLIC_ACCESS:
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=BLOCK_ALL_PUBLIC_ACCESS)
    return name


def _ensure_s3_egress(lab: Lab, groups: SecurityGroups) -> None:
    """The instance SG only allows HTTPS into the VPC; S3 through the gateway needs the S3 prefix list."""
    ec2 = lab.client("ec2")
    prefix_list_name = endpoint_step.service_name(lab, "s3")
    with explained("looking up the S3 prefix list"):
        lists = ec2.describe_managed_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [prefix_list_name]}])
    prefix_list_id = lists["PrefixLists"][0]["PrefixListId"]
    with explained("reading the instance security group"):
        group = ec2.describe_security_groups(GroupIds=[groups.instance_sg_id])["SecurityGroups"][0]
    ensure_https_rule(
        lab, group, "egress", "instance-s3-out", "HTTPS to S3 (gateway endpoint)", prefix_list_id=prefix_list_id
    )


def role_policy(lab: Lab, log_group: str | None, bucket: str | None) -> dict:
    """What the agent needs to write transcripts (Session Manager User Guide, session logging permissions)."""
    statements = []
    if log_group:
        arn = f"arn:{lab.partition}:logs:{lab.region}:{lab.account_id}:log-group:{log_group}"
        statements.append(
            {
                "Sid": "SessionTranscriptsToCloudWatchLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": [arn, f"{arn}:*"],
            }
        )
        statements.append(
            {"Sid": "FindTheLogGroup", "Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"}
        )
    if bucket:
        arn = f"arn:{lab.partition}:s3:::{bucket}"
        statements.append(
            {"Sid": "SessionTranscriptsToS3", "Effect": "Allow", "Action": "s3:PutObject", "Resource": f"{arn}/*"}
        )
        statements.append(
            {"Sid": "CheckBucketEncryption", "Effect": "Allow", "Action": "s3:GetEncryptionConfiguration", "Resource": arn}
        )
    return {"Version": "2012-10-17", "Statement": statements}


def inline_policy_name(lab: Lab) -> str:
    return lab.iam_name("session-logging")


def _ensure_role_permissions(lab: Lab, role: InstanceRole, log_group: str | None, bucket: str | None) -> None:
    iam = lab.client("iam")
    wanted = role_policy(lab, log_group, bucket)
    with explained(f"reading the session-logging policy of {role.role_name}"):
        found = get_or_none(iam.get_role_policy, RoleName=role.role_name, PolicyName=inline_policy_name(lab))
    current = found and found["PolicyDocument"]
    if isinstance(current, str):
        current = json.loads(current)
    if current != wanted:
        with explained(f"granting {role.role_name} the session-logging permissions"):
            iam.put_role_policy(
                RoleName=role.role_name, PolicyName=inline_policy_name(lab), PolicyDocument=json.dumps(wanted)
            )


def _ensure_preferences(lab: Lab, content: dict) -> bool:
    """Create the preferences document, or update it after saving what was there; True if created."""
    ssm = lab.client("ssm")
    with explained(f"reading the Session Manager preferences {PREFERENCES_DOCUMENT}"):
        current = get_or_none(ssm.get_document, missing=("InvalidDocument",), Name=PREFERENCES_DOCUMENT, DocumentFormat="JSON")
    if current is None:
        with explained(f"creating the Session Manager preferences {PREFERENCES_DOCUMENT}"):
            ssm.create_document(
                Name=PREFERENCES_DOCUMENT,
                Content=json.dumps(content),
                DocumentType="Session",
                DocumentFormat="JSON",
                Tags=lab.tags("session-preferences"),
            )
        return True
    if json.loads(current["Content"]) == content:
        return False
    _save_previous_preferences(lab, current["Content"])
    with explained(f"updating the Session Manager preferences {PREFERENCES_DOCUMENT}"):
        version = ssm.update_document(
            Name=PREFERENCES_DOCUMENT, Content=json.dumps(content), DocumentVersion="$LATEST", DocumentFormat="JSON"
        )["DocumentDescription"]["DocumentVersion"]
        ssm.update_document_default_version(Name=PREFERENCES_DOCUMENT, DocumentVersion=version)
    return False


def _save_previous_preferences(lab: Lab, content: str) -> None:
    """Keep the account's own preferences once (never overwrite them with a later lab's)."""
    ssm = lab.client("ssm")
    with explained("saving the previous Session Manager preferences"):
        if get_or_none(ssm.get_parameter, missing=("ParameterNotFound",), Name=backup_parameter(lab)) is None:
            ssm.put_parameter(
                Name=backup_parameter(lab),
                Value=content,
                Type="String",
                Tier="Advanced" if len(content) > 4096 else "Standard",
                Overwrite=False,
                Tags=lab.tags("previous-session-preferences"),
            )
