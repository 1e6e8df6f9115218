"""The lab's KMS key read back: by its alias `alias/ssmlab-<lab>-sessions` (one DescribeKey) and, where a key
may have lost its alias (a build interrupted between CreateKey and CreateAlias, a cleanup between
ScheduleKeyDeletion and DeleteAlias), by its `ssmlab:lab` tag through the Resource Groups Tagging API (one
GetResources, which lists KMS keys: "kms:key")."""

from __future__ import annotations

import json
from typing import Any

from ssmlab.kmskey import alias_name, find
from ssmlab.model import PENDING_DELETION, KmsKey, Tags

NOT_FOUND = ("NotFoundException",)

def _tags(raw: list[dict[str, str]]) -> Tags:
    return tuple(sorted((t["TagKey"], t["TagValue"]) for t in raw))


def describe(lab: Any, ref: str, *, details: bool = True) -> KmsKey | None:
    """The key `ref` names (None: no such key or alias); with `details`, its policy, tags and aliases too."""
    from ssmlab.aws import explained, get_or_none

    kms = lab.client("kms")
    with explained(f"reading the KMS key {ref}"):
        found = get_or_none(kms.describe_key, missing=NOT_FOUND, KeyId=ref)
        if found is None:
            return None
        meta = found["KeyMetadata"]
        key_id = meta["KeyId"]
        aliases: tuple[str, ...] = (ref,) if ref.startswith("alias/") else ()
        policy: dict = {}
        tags: Tags = ()
        if details:
            aliases = tuple(a["AliasName"] for a in kms.list_aliases(KeyId=key_id).get("Aliases", []))
            tags = _tags(kms.list_resource_tags(KeyId=key_id).get("Tags", []))
            if meta.get("KeyState") != PENDING_DELETION:  # GetKeyPolicy refuses a key pending deletion
                policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    return KmsKey(key_id, meta["Arn"], meta.get("KeyState", ""), aliases, policy, tags, meta.get("DeletionDate"))


def lab_key(lab: Any) -> KmsKey | None:
    """The lab's key by its alias, when it carries the lab's tag (an alias of the same name in a key that is not
    the lab's is never adopted)."""
    key = describe(lab, alias_name(lab.name))
    return key if key is not None and ("ssmlab:lab", lab.name) in key.tags else None


def with_named(lab: Any, keys: tuple[KmsKey, ...], ref: str | None) -> tuple[KmsKey, ...]:
    """`keys`, plus the key `ref` names (the preferences' kmsKeyId) when it is another: its ARN and state are what
    the doctor needs (a key of someone else's may refuse its details to the caller, so only DescribeKey)."""
    if not ref or find(keys, ref) is not None:
        return keys
    from ssmlab.errors import LabError

    try:
        named = describe(lab, ref, details=False)
    except LabError:  # refused (AccessDenied, a key in another account): the doctor works from the reference alone
        return keys
    return keys + ((named,) if named else ())


def lab_keys(lab: Any) -> tuple[KmsKey, ...]:
    """Every key carrying the lab's tag, pending deletion or not (with or without its alias)."""
    from ssmlab.aws import describe_all, explained

    with explained(f"listing the KMS keys tagged ssmlab:lab={lab.name}"):
        found = describe_all(
            lab.client("resourcegroupstaggingapi"), "get_resources", "ResourceTagMappingList",
            ResourceTypeFilters=["kms:key"], TagFilters=[{"Key": "ssmlab:lab", "Values": [lab.name]}],
        )
    keys = [describe(lab, item["ResourceARN"]) for item in found]
    return tuple(k for k in keys if k is not None and ("ssmlab:lab", lab.name) in k.tags)
