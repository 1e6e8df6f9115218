"""The lab's KMS key for session encryption, as the rules see it: its name, which key a reference names, and what
teardown does with it (scheduled, never deleted at once). Pure: `inventory.kms` reads the keys."""

from __future__ import annotations

from typing import Iterable

from ssmlab.model import DELETION_DAYS, ENABLED, PENDING_DELETION, KmsKey, has_lab_tag  # noqa: F401 - ENABLED: kmskey.ENABLED


def alias_name(lab_name: str) -> str:
    return f"alias/ssmlab-{lab_name}-sessions"


def find(keys: Iterable[KmsKey], ref: str | None) -> KmsKey | None:
    return next((k for k in keys if k.named_by(ref)), None)


def owners(keys: Iterable[KmsKey], lab_name: str) -> dict[str, str]:
    """{key id and key ARN: lab} for the lab's keys: how `preferences.set_by` tells the lab's kmsKeyId."""
    return {ref: lab_name for k in keys if (has_lab_tag(k.tags, lab_name)) for ref in (k.key_id, k.arn)}


def removal(keys: Iterable[KmsKey], lab_name: str) -> list[tuple[str, str, str, dict, str]]:
    """Teardown's calls for the lab's keys, as (kind, id, kms operation, params, why): a key is never deleted at
    once, only scheduled (ScheduleKeyDeletion, 7 days at least); a key already pending deletion is done. The key
    goes before its alias, so a cleanup cut in between still finds the key by its alias the next time."""
    calls = []
    for key in (k for k in keys if has_lab_tag(k.tags, lab_name)):
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
            "within that time does" for k in keys if has_lab_tag(k.tags, lab_name) and k.state != PENDING_DELETION]


def left(keys: Iterable[KmsKey]) -> list[tuple[str, str]]:
    """What of the keys the audit counts as left: a key not pending deletion, and any alias."""
    return [("KMS key", k.key_id) for k in keys if k.state != PENDING_DELETION] + [
        ("KMS alias", a) for k in keys for a in k.aliases]
