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

from typing import Any, Callable

from ssmlab import preferences
from ssmlab.aws import error_code, explained, get_or_none
from ssmlab.idempotent import create_or_adopt
from ssmlab.lab import Lab
from ssmlab.steps import endpoints as endpoint_step
from ssmlab.steps import iam as iam_step
from ssmlab.steps.iam import InstanceRole
from ssmlab.steps.network import Network
from ssmlab.steps.security_groups import SecurityGroups, ensure_https_rule

PREFERENCES_DOCUMENT = preferences.DOCUMENT
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
    return preferences.log_group_name(lab.name)


def bucket_name(lab: Lab) -> str:
    return preferences.bucket_name(lab.name, lab.account_id, lab.region)


def backup_parameter(lab: Lab) -> str:
    """Where the preferences that existed before the lab are kept, so teardown can restore them."""
    return preferences.saved_name(lab.name)


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
    # The lab's KMS key (session encryption), if any, stays in the preferences this step sets.
    document_created = ensure_preferences(
        lab, lambda own: preferences.content(log_group, bucket, own[2]), lab_key_owners(lab))
    if document_created:
        created.append(PREFERENCES_DOCUMENT)
    return SessionLogging(log_group, bucket, logs_endpoint_id, s3_endpoint_id, PREFERENCES_DOCUMENT, tuple(created))


def _ensure_log_group(lab: Lab, created: list[str]) -> str:
    logs = lab.client("logs")
    name = log_group_name(lab)
    with explained(f"looking up the log group {name}"):
        groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    if not any(g["logGroupName"] == name for g in groups):
        _, new = create_or_adopt(
            lab, "logs", f"creating the log group {name}",
            lambda client: client.create_log_group(logGroupName=name,
                                                   tags={t["Key"]: t["Value"] for t in lab.tags("session-logs")}),
            lambda: name if any(g["logGroupName"] == name for g in logs.describe_log_groups(
                logGroupNamePrefix=name)["logGroups"]) else None,
            exists=("ResourceAlreadyExistsException",),
        )
        with explained(f"setting the retention of the log group {name}"):
            logs.put_retention_policy(logGroupName=name, retentionInDays=LOG_RETENTION_DAYS)
        if new:
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
        kwargs = {} if lab.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": lab.region}}
        _, new = create_or_adopt(
            lab, "s3", f"creating the bucket {name}", lambda client: client.create_bucket(Bucket=name, **kwargs),
            lambda: get_or_none(s3.head_bucket, missing=("404", "NoSuchBucket", "NotFound"), Bucket=name),
            exists=("BucketAlreadyOwnedByYou",),
        )
        if new:
            created.append(name)
    with explained(f"tagging the bucket {name}"):  # a separate call: an interrupted build may have missed it
        tagging = get_or_none(s3.get_bucket_tagging, missing=("NoSuchTagSet",), Bucket=name) if exists else None
        if not all(tag in (tagging or {}).get("TagSet", []) for tag in lab.tags("session-logs")):
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": lab.tags("session-logs")})
    with explained(f"securing the bucket {name}"):
        missing = ("ServerSideEncryptionConfigurationNotFoundError", "NoSuchPublicAccessBlockConfiguration")
        encryption = None if not exists else get_or_none(s3.get_bucket_encryption, missing=missing, Bucket=name)
        rules = (encryption or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        # S3 answers each rule with BucketKeyEnabled too (false for SSE-S3): compare the default encryption only
        if [r.get("ApplyServerSideEncryptionByDefault") for r in rules] != [
                r["ApplyServerSideEncryptionByDefault"] for r in ENCRYPTION["Rules"]]:
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
    iam_step.ensure_inline_policy(lab, role.role_name, inline_policy_name(lab), role_policy(lab, log_group, bucket),
                                  "the session-logging permissions")


def lab_key_owners(lab: Lab) -> dict[str, str]:
    """{key id and ARN: lab} of the lab's session-encryption key, if it has one (`preferences.set_by`)."""
    from ssmlab import kmskey
    from ssmlab.inventory import kms as inventory_kms

    key = inventory_kms.lab_key(lab)
    return kmskey.owners((key,) if key else (), lab.name)


def ensure_preferences(lab: Lab, make: Callable[[tuple], dict], keys: dict[str, str] | None = None) -> bool:
    """Create the preferences document, or set it after saving what was there (`preferences.takeover`);
    True if created. `make(own)` is the content, given what the lab's own preferences hold now
    (`preferences.own_parts`: log group, bucket, KMS key), so one optional step keeps the other's part."""
    from ssmlab import inventory

    document = inventory.preferences_document(lab)
    content = make(preferences.own_parts(document.content if document else None, lab.name, keys))
    if document is None:
        with explained(f"creating the Session Manager preferences {PREFERENCES_DOCUMENT}"):
            for change in preferences.takeover(lab.name, None, inventory.saved_preferences(lab), keys):
                apply(lab, change)
            _, created = create_or_adopt(
                lab, "ssm", f"creating the Session Manager preferences {PREFERENCES_DOCUMENT}",
                lambda client: client.create_document(
                    Name=PREFERENCES_DOCUMENT, Content=json.dumps(content), DocumentType="Session",
                    DocumentFormat="JSON", Tags=lab.tags("session-preferences")),
                lambda: inventory.preferences_document(lab),
                exists=("DocumentAlreadyExists",),  # another lab was first, or a retry after a lost answer
            )
        if created:
            return True
        document = inventory.preferences_document(lab)
    if document is not None and json.loads(document.content or "{}") == content:
        return False
    with explained(f"setting the Session Manager preferences {PREFERENCES_DOCUMENT}"):
        for change in preferences.takeover(lab.name, document, inventory.saved_preferences(lab), keys):
            apply(lab, change)
        set_content(lab.client("ssm"), PREFERENCES_DOCUMENT, json.dumps(content))
    return False


def apply(lab: Lab, change: preferences.Change) -> None:
    """Run one change to the region's preferences or a lab's saved copy (build and teardown alike)."""
    ssm = lab.client("ssm")
    if change.operation == "update_document":
        set_content(ssm, change.params["Name"], change.params["Content"])
    else:
        getattr(ssm, change.operation)(**change.params)


def set_content(ssm: Any, name: str, text: str) -> str:
    """Make `text` the document's default version: a new version, or the existing one that already has it
    (SSM refuses a version identical to an earlier one: DuplicateDocumentContent). Returns the version."""
    from botocore.exceptions import ClientError

    try:
        version = ssm.update_document(Name=name, Content=text, DocumentVersion="$LATEST",
                                      DocumentFormat="JSON")["DocumentDescription"]["DocumentVersion"]
    except ClientError as error:
        if error_code(error) != "DuplicateDocumentContent":
            raise
        wanted = json.loads(text)
        # Versions are numbered 1..LatestVersion; the newest matching one is the one to use.
        latest = int(ssm.describe_document(Name=name)["Document"]["LatestVersion"])
        version = next((str(n) for n in range(latest, 0, -1) if json.loads(
            ssm.get_document(Name=name, DocumentVersion=str(n), DocumentFormat="JSON")["Content"]) == wanted), None)
        if version is None:
            raise
    ssm.update_document_default_version(Name=name, DocumentVersion=version)
    return version
