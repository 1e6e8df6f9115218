"""The lab's KMS key for session encryption, read back: the model (`KmsKey`) and its readers.

Kept apart from `inventory` (already long), which calls these for a lab's snapshot and for
teardown. The key is found by its alias `alias/ssmlab-<lab>-sessions` (one DescribeKey) and,
where a key may have lost its alias (a build interrupted between CreateKey and CreateAlias,
a cleanup between ScheduleKeyDeletion and DeleteAlias), by its `ssmlab:lab` tag through the
Resource Groups Tagging API (one GetResources, which lists KMS keys: "kms:key").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

Tags = tuple[tuple[str, str], ...]
PENDING_DELETION = "PendingDeletion"
DELETION_DAYS = 7  # ScheduleKeyDeletion's shortest waiting period (AWS KMS API reference, PendingWindowInDays)
ENABLED = "Enabled"
NOT_FOUND = ("NotFoundException",)


@dataclass(frozen=True)
class KmsKey:
    key_id: str
    arn: str
    state: str  # Enabled | Disabled | PendingDeletion | PendingImport | Unavailable ...
    aliases: tuple[str, ...] = ()  # alias names ("alias/...")
    policy: dict = field(default_factory=dict, hash=False, compare=False)  # the key policy ("default")
    tags: Tags = ()
    deletion_date: datetime | None = None

    @property
    def alias_arns(self) -> tuple[str, ...]:
        prefix = self.arn.split(":key/", 1)[0]
        return tuple(f"{prefix}:{alias}" for alias in self.aliases)

    def named_by(self, ref: str | None) -> bool:
        """Whether `ref` (a key id, key ARN, alias name or alias ARN, as KMS accepts them) names this key."""
        return bool(ref) and ref in (self.key_id, self.arn, *self.aliases, *self.alias_arns)


def alias_name(lab_name: str) -> str:
    return f"alias/ssmlab-{lab_name}-sessions"


def find(keys: Iterable[KmsKey], ref: str | None) -> KmsKey | None:
    return next((k for k in keys if k.named_by(ref)), None)


def owners(keys: Iterable[KmsKey], lab_name: str) -> dict[str, str]:
    """{key id and key ARN: lab} for the lab's keys: how `preferences.set_by` tells the lab's kmsKeyId."""
    return {ref: lab_name for k in keys if (("ssmlab:lab", lab_name) in k.tags) for ref in (k.key_id, k.arn)}


def removal(keys: Iterable[KmsKey], lab_name: str) -> list[tuple[str, str, str, dict, str]]:
    """Teardown's calls for the lab's keys, as (kind, id, kms operation, params, why): a key is never deleted at
    once, only scheduled (ScheduleKeyDeletion, 7 days at least); a key already pending deletion is done. The key
    goes before its alias, so a cleanup cut in between still finds the key by its alias the next time."""
    calls = []
    for key in (k for k in keys if ("ssmlab:lab", lab_name) in k.tags):
        if key.state != PENDING_DELETION:
            calls.append((f"KMS key (deletion scheduled in {DELETION_DAYS} days)", key.key_id, "schedule_key_deletion",
                          {"KeyId": key.key_id, "PendingWindowInDays": DELETION_DAYS},
                          (f"AWS deletes a KMS key only after a waiting period, {DELETION_DAYS} days at least; it bills "
                           "nothing meanwhile (AWS KMS pricing page), and `aws kms cancel-key-deletion` brings it back")))
        calls += [("KMS alias", alias, "delete_alias", {"AliasName": alias}, "the key's name")
                  for alias in key.aliases if alias.startswith(f"alias/ssmlab-{lab_name}-")]
    return calls


def notes(keys: Iterable[KmsKey], lab_name: str) -> list[str]:
    """What the cleanup says of the lab's keys before it starts: they are scheduled for deletion, not deleted."""
    return [f"the KMS key {k.key_id} is scheduled for deletion, not deleted: AWS waits {DELETION_DAYS} days at least "
            "(ScheduleKeyDeletion's shortest waiting period) and bills nothing meanwhile (AWS KMS pricing page); "
            f"`aws kms cancel-key-deletion --key-id {k.key_id}` brings it back, as a new build of lab {lab_name} "
            "within that time does" for k in keys if ("ssmlab:lab", lab_name) in k.tags and k.state != PENDING_DELETION]


def left(keys: Iterable[KmsKey]) -> list[tuple[str, str]]:
    """What of the keys the audit counts as left: a key not pending deletion, and any alias."""
    return [("KMS key", k.key_id) for k in keys if k.state != PENDING_DELETION] + [
        ("KMS alias", a) for k in keys for a in k.aliases]


# -- reading (the edge) ---------------------------------------------------------------------------


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
