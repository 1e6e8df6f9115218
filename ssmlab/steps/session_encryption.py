"""Step 7 (optional), session encryption: session data encrypted with a customer managed KMS key.

TLS 1.2 already protects every session; with a KMS key named in the Session Manager
preferences (`kmsKeyId`), the data between the client and the instance is encrypted once
more with data keys of that key (AWS Systems Manager User Guide, "Turn on KMS key encryption
of session data"; agent >= 2.3.539.0, "Session Manager prerequisites"). The client (the
Session Manager plugin, the console) calls kms:GenerateDataKey; the agent on the instance
calls kms:Decrypt on the data key (aws/amazon-ssm-agent, `agent/session/crypto/blockcipher.go`,
`kmsservice.go`). So the lab needs:

- a symmetric customer managed key, its alias `alias/ssmlab-<lab>-sessions`, and a key policy
  that lets the account's IAM policies grant its use (KMS Developer Guide, "Default key policy");
- the role's permission: kms:Decrypt on the key (User Guide, "Create a custom IAM role for
  Session Manager"), and kms:GenerateDataKey, which the same page's policy for sessions that
  also log to S3/CloudWatch grants;
- the `kms` interface endpoint: the agent reaches KMS from the private subnet;
- `kmsKeyId` in the preferences (their log group and bucket, if the lab's, are kept).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ssmlab import kmskey, preferences
from ssmlab.aws import explained, get_or_none
from ssmlab.errors import LabError
from ssmlab.idempotent import create_or_adopt
from ssmlab.inventory import kms as inventory_kms
from ssmlab.model import KmsKey
from ssmlab.lab import Lab
from ssmlab.steps import endpoints as endpoint_step
from ssmlab.steps import iam as iam_step
from ssmlab.steps.iam import InstanceRole
from ssmlab.steps.network import Network
from ssmlab.steps.security_groups import SecurityGroups
from ssmlab.steps.session_logging import PREFERENCES_DOCUMENT, ensure_preferences

ROLE_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")


@dataclass(frozen=True)
class SessionEncryption:
    key_id: str
    key_arn: str
    alias: str
    kms_endpoint_id: str
    policy_name: str
    document_name: str
    created: tuple[str, ...] = ()


def inline_policy_name(lab: Lab) -> str:
    return lab.iam_name("session-encryption")


def key_policy(lab: Lab) -> dict:
    """The default key policy (KMS Developer Guide, "Default key policy"): the account's IAM policies decide who
    may use the key, so the role's inline policy is what grants the agent kms:Decrypt."""
    return {
        "Version": "2012-10-17",
        "Id": f"ssmlab-{lab.name}-sessions",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{lab.partition}:iam::{lab.account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }],
    }


def role_policy(key_arn: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "SessionEncryptionKey", "Effect": "Allow", "Action": list(ROLE_ACTIONS), "Resource": key_arn}]}


def ensure(lab: Lab, network: Network, groups: SecurityGroups, role: InstanceRole) -> SessionEncryption:
    """The key (adopted if the lab has one, even pending deletion), its alias, the kms endpoint, the role's
    permission, and kmsKeyId in the preferences."""
    created: list[str] = []
    key = _ensure_key(lab, created)
    kms = endpoint_step.ensure_interface_endpoints(lab, network, groups.endpoint_sg_id, ("kms",))
    created.extend(kms.created)
    _ensure_role_permissions(lab, role, key.arn)
    owners = kmskey.owners((key,), lab.name)
    if ensure_preferences(lab, lambda own: preferences.content(own[0], own[1], key.arn), owners):
        created.append(PREFERENCES_DOCUMENT)
    return SessionEncryption(key.key_id, key.arn, kmskey.alias_name(lab.name), kms.endpoints[0].endpoint_id,
                             inline_policy_name(lab), PREFERENCES_DOCUMENT, tuple(created))


def _ensure_key(lab: Lab, created: list[str]) -> KmsKey:
    alias = kmskey.alias_name(lab.name)
    key = inventory_kms.lab_key(lab)
    if key is None:  # no alias yet: a key the lab made before its alias (an interrupted build or cleanup) is kept
        ours = sorted(inventory_kms.lab_keys(lab), key=lambda k: k.state == kmskey.PENDING_DELETION)
        key = ours[0] if ours else None
        if key is None:
            raw, new = create_or_adopt(
                lab, "kms", "creating the session-encryption KMS key",
                lambda client: client.create_key(
                    Description=f"ssmlab {lab.name}: encrypts Session Manager session data",
                    KeyUsage="ENCRYPT_DECRYPT", KeySpec="SYMMETRIC_DEFAULT", Policy=json.dumps(key_policy(lab)),
                    Tags=[{"TagKey": t["Key"], "TagValue": t["Value"]} for t in lab.tags("session-key")]),
                lambda: next(iter(inventory_kms.lab_keys(lab)), None),
            )
            key = raw if isinstance(raw, KmsKey) else inventory_kms.describe(lab, raw["KeyMetadata"]["KeyId"])
            if new:
                created.append(key.key_id)
        with explained(f"naming the key {key.key_id} {alias}"):
            taken = get_or_none(lab.client("kms").describe_key, missing=inventory_kms.NOT_FOUND, KeyId=alias)
            if taken is not None and taken["KeyMetadata"]["KeyId"] != key.key_id:
                raise LabError(f"the alias {alias} names the key {taken['KeyMetadata']['KeyId']}, which does not carry "
                               f"the tag ssmlab:lab={lab.name}: delete or rename that alias (aws kms delete-alias "
                               f"--alias-name {alias}), then build again")
            if taken is None:
                lab.client("kms").create_alias(AliasName=alias, TargetKeyId=key.key_id)
                created.append(alias)
    _converge_key(lab, key)
    return key


def _converge_key(lab: Lab, key: KmsKey) -> None:
    """A key the lab's cleanup scheduled for deletion, or someone disabled, is usable again; its policy is the
    kit's (AWS keeps a key pending deletion for at least 7 days, so a rebuild within them needs no new key)."""
    kms = lab.client("kms")
    with explained(f"making the KMS key {key.key_id} usable"):
        if key.state == kmskey.PENDING_DELETION:
            kms.cancel_key_deletion(KeyId=key.key_id)  # leaves it Disabled (KMS API reference, CancelKeyDeletion)
        if key.state in (kmskey.PENDING_DELETION, "Disabled"):
            kms.enable_key(KeyId=key.key_id)
        wanted = key_policy(lab)
        if key.state == kmskey.PENDING_DELETION or key.policy != wanted:
            kms.put_key_policy(KeyId=key.key_id, PolicyName="default", Policy=json.dumps(wanted))


def _ensure_role_permissions(lab: Lab, role: InstanceRole, key_arn: str) -> None:
    iam_step.ensure_inline_policy(lab, role.role_name, inline_policy_name(lab), role_policy(key_arn),
                                  f"kms:Decrypt and kms:GenerateDataKey on {key_arn}")


def revoke_role_permission(lab: Lab, role: InstanceRole) -> str:
    """Break it (notebook 07): delete the role's session-encryption policy, as a learner tidying the role might;
    running the step again puts it back. Returns the policy's name."""
    with explained(f"deleting the session-encryption policy of {role.role_name}"):
        get_or_none(lab.client("iam").delete_role_policy, RoleName=role.role_name, PolicyName=inline_policy_name(lab))
    return inline_policy_name(lab)
