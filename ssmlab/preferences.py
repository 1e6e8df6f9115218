"""Who set the region's Session Manager preferences, and what a lab's arrival or removal does to them (pure).

`SSM-SessionManagerRunShell` is one document per account and region, so labs with session
logging or encryption take turns: each one that sets it saves what was there before in a parameter of its
own (`/kit/ssmlab/<lab>/previous-session-preferences`), and the lab that created the
document carries it in its tag. Together they form a chain, oldest first:

    the account's own (or none) -> pa's -> pb's          (pb's saved = pa's, pa's saved = the account's)

Whose preferences the document holds now is read from its content — the log group
`/ssmlab/<lab>/sessions` or the bucket `ssmlab-<lab>-<account>-<region>` it names, or the
lab's KMS key (`kmsKeyId`, session encryption: a key ARN, so the caller says whose keys are
whose) — not from prose. Removing a lab then does the one right thing:

- the document holds the lab's preferences: put back what the lab saved (or delete the
  document, when the lab created it);
- it holds a later lab's: leave it, and take the removed lab out of the chain, so the later
  lab will one day restore what was there before the removed one (never its log group,
  which is gone);
- it holds something nobody in the chain set (changed by hand since): leave it.

A lab that sets its preferences again after another lab is first taken out of the chain,
then put on top, so the chain never loops.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from ssmlab.model import Parameter, PreferencesDocument, has_lab_tag
from ssmlab.model import TAG_KEY, kit_tags

DOCUMENT = "SSM-SessionManagerRunShell"
SAVED_PATH = "/kit/ssmlab/"
# Parameter names may not begin with "ssm" or "aws" (SSM API reference, PutParameter), and a lab name may:
# the path starts with a fixed segment.
SAVED_RE = re.compile(r"/kit/ssmlab/(?P<lab>[a-z][a-z0-9-]*)/previous-session-preferences")
LOG_GROUP_RE = re.compile(r"/ssmlab/(?P<lab>[a-z][a-z0-9-]*)/sessions")
BUCKET_RE = re.compile(r"ssmlab-(?P<lab>[a-z][a-z0-9-]*)-\d{12}-[a-z0-9-]+")


def saved_name(lab: str) -> str:
    return f"{SAVED_PATH}{lab}/previous-session-preferences"


def log_group_name(lab: str) -> str:
    return f"/ssmlab/{lab}/sessions"


def bucket_name(lab: str, account: str, region: str) -> str:
    """Bucket names are global: the account and region make the lab's one unique (<= 59 chars)."""
    return f"ssmlab-{lab}-{account}-{region}"


def content(log_group: str | None, bucket: str | None, kms_key: str | None = None) -> dict:
    """The preferences document the kit sets (schema 1.0, Standard_Stream). `kms_key` (a key ARN) turns on KMS
    encryption of session data (User Guide, "Create Session Manager preferences (command line)": kmsKeyId)."""
    what = [w for w, on in (("transcripts to the lab's log group and bucket", log_group or bucket),
                            ("session data encrypted with the lab's KMS key", kms_key)) if on]
    return {
        "schemaVersion": "1.0",
        "description": f"Session Manager preferences set by ssmlab: {'; '.join(what) or 'defaults'}",
        "sessionType": "Standard_Stream",
        "inputs": {
            "s3BucketName": bucket or "",
            "s3KeyPrefix": "sessions/" if bucket else "",
            "s3EncryptionEnabled": bool(bucket),
            "cloudWatchLogGroupName": log_group or "",
            "cloudWatchEncryptionEnabled": False,
            "cloudWatchStreamingEnabled": bool(log_group),
            "kmsKeyId": kms_key or "",
            "idleSessionTimeout": "20",
            "runAsEnabled": False,
            "shellProfile": {"windows": "", "linux": ""},
        },
    }


def _inputs(text: str | dict | None) -> dict:
    if not text:
        return {}
    try:
        inputs = (json.loads(text) if isinstance(text, str) else text).get("inputs", {})
    except (ValueError, AttributeError):
        return {}
    return inputs if isinstance(inputs, dict) else {}


def set_by(text: str | dict | None, keys: Mapping[str, str] | None = None) -> str | None:
    """The lab whose log group, bucket or KMS key these preferences name, or None (the account's own, or none).

    A key's id says nothing of its lab, so `keys` ({key id or ARN: lab}, `kmskey.owners`) tells the labs' keys."""
    inputs = _inputs(text)
    for value, pattern in ((inputs.get("cloudWatchLogGroupName"), LOG_GROUP_RE), (inputs.get("s3BucketName"), BUCKET_RE)):
        match = pattern.fullmatch(value or "")
        if match:
            return match.group("lab")
    return (keys or {}).get(str(inputs.get("kmsKeyId") or "")) or None


def own_parts(text: str | dict | None, lab: str, keys: Mapping[str, str] | None = None) -> tuple[str | None, str | None, str | None]:
    """(log group, bucket, KMS key) of the preferences when they are `lab`'s own, else Nones: what one optional step
    keeps of the other's when it sets the preferences (session logging keeps the key, encryption the destinations)."""
    if set_by(text, keys) != lab:
        return None, None, None
    inputs = _inputs(text)
    return (inputs.get("cloudWatchLogGroupName") or None, inputs.get("s3BucketName") or None,
            inputs.get("kmsKeyId") or None)


def saved_by(parameter: Parameter) -> str | None:
    match = SAVED_RE.fullmatch(parameter.name)
    return match.group("lab") if match else None


@dataclass(frozen=True)
class Change:
    """One SSM call on the region's preferences or the labs' saved copies, as data, with why it is made."""

    kind: str  # "preferences" | "saved preferences" | "preferences tag"
    target: str
    operation: str
    params: dict = field(hash=False)
    why: str


@dataclass(frozen=True)
class Outlook:
    """What a lab's removal does to the region's preferences: the calls, and what is left alone with why."""

    changes: tuple[Change, ...] = ()
    notes: tuple[str, ...] = ()


def removal(lab: str, document: PreferencesDocument | None, saved: tuple[Parameter, ...],
            keys: Mapping[str, str] | None = None) -> Outlook:
    """The calls that take `lab` out of the region's preferences, given every lab's saved copy (and the lab's KMS
    keys, `set_by`'s `keys`)."""
    own = _own(lab, saved)
    tagged = document is not None and has_lab_tag(document.tags, lab)
    later = _later(lab, saved, keys)
    if document is None:
        if own is None:
            return Outlook()
        return Outlook((_delete_saved(own, "nothing to restore it into: the preferences document is gone"),),
                       (f"{DOCUMENT} no longer exists, so the preferences lab {lab} saved are not put back",))
    current = set_by(document.content, keys)
    if current == lab:
        if own is not None:
            return Outlook((
                Change("preferences", document.name, "update_document", _update(document.name, own.value),
                       "put back the Session Manager preferences that were there before the lab"),
                _delete_saved(own, "the saved preferences, once restored"),
            ))
        if tagged:
            return Outlook((Change("preferences", document.name, "delete_document", {"Name": document.name},
                                   "the lab created these Session Manager preferences"),))
        return Outlook((), (f"{DOCUMENT} names lab {lab}'s log group or bucket, but the lab kept no copy of what was "
                            "there before: left as it is (set it again with `aws ssm update-document`)",))
    if own is None and not tagged and later is None:
        return Outlook()  # the lab never set the preferences
    changes = list(_splice(lab, document, own, tagged, later))
    if tagged and later is None:  # changed by hand since: no longer the lab's to delete
        changes.append(Change("preferences tag", document.name, "remove_tags_from_resource",
                              {"ResourceType": "Document", "ResourceId": document.name, "TagKeys": [TAG_KEY]},
                              f"the preferences are no longer lab {lab}'s"))
    whose = (f"lab {current}'s preferences, set after lab {lab}'s, and lab {current} relies on them" if current
             else f"preferences changed by hand since lab {lab} set its own")
    return Outlook(tuple(changes), (f"{DOCUMENT} now holds {whose}: left as it is",))


def takeover(lab: str, document: PreferencesDocument | None, saved: tuple[Parameter, ...],
             keys: Mapping[str, str] | None = None) -> tuple[Change, ...]:
    """Before `lab` sets its preferences over someone else's: take it out of the chain, then save what is there
    now as its own copy (to be put back when the lab goes). The caller then updates the document."""
    own = _own(lab, saved)
    if document is None:  # the lab creates the document: a copy left from an earlier time would be put back
        return (_delete_saved(own, "a copy from before, of preferences that no longer exist"),) if own else ()
    if set_by(document.content, keys) == lab:
        return ()
    tagged = has_lab_tag(document.tags, lab)
    later = _later(lab, saved, keys)
    changes = [c for c in _splice(lab, document, own, tagged, later) if c.operation != "delete_parameter"
               or c.target != saved_name(lab)]
    changes.append(_save(saved_name(lab), document.content, "keep the preferences there now, to put them back "
                         "when the lab is removed", tags=None if own else kit_tags(lab, "previous-session-preferences")))
    if tagged and later is None:  # the lab created the document, yet what it holds now is not the lab's
        changes.append(Change("preferences tag", document.name, "remove_tags_from_resource",
                              {"ResourceType": "Document", "ResourceId": document.name, "TagKeys": [TAG_KEY]},
                              "the lab's copy now holds what is there, so the document is no longer the lab's to delete"))
    return tuple(changes)


def _splice(lab: str, document: PreferencesDocument, own: Parameter | None, tagged: bool,
            later: Parameter | None) -> list[Change]:
    """Take `lab` out of the chain: the lab that came after it inherits what it saved (or its creation)."""
    changes: list[Change] = []
    if later is not None:
        heir = saved_by(later)
        if own is not None:
            changes.append(_save(later.name, own.value,
                                 f"lab {heir} will put back what was there before lab {lab}, not lab {lab}'s preferences"))
        elif tagged:
            changes.append(_delete_saved(later, f"lab {heir} now counts as the creator of the preferences"))
            changes.append(Change("preferences tag", document.name, "add_tags_to_resource", {
                "ResourceType": "Document", "ResourceId": document.name, "Tags": kit_tags(heir, "session-preferences"),
            }, f"lab {heir} deletes the preferences when it goes, as lab {lab} would have"))
    if own is not None:
        changes.append(_delete_saved(own, f"lab {lab}'s place in the chain is taken over"))
    return changes


def _own(lab: str, saved: tuple[Parameter, ...]) -> Parameter | None:
    return next((p for p in saved if saved_by(p) == lab), None)


def _later(lab: str, saved: tuple[Parameter, ...], keys: Mapping[str, str] | None = None) -> Parameter | None:
    """The saved copy that holds `lab`'s preferences: its lab set its own over `lab`'s."""
    return next((p for p in saved if saved_by(p) not in (None, lab) and set_by(p.value, keys) == lab), None)


def _save(name: str, text: str, why: str, tags: list[dict[str, str]] | None = None) -> Change:
    """PutParameter: a new copy with the lab's tags, or an existing one overwritten (AWS takes tags only on a
    new parameter: Overwrite and Tags together are refused; the existing tags stay)."""
    params: dict[str, Any] = {"Name": name, "Value": text, "Type": "String",
                              "Tier": "Advanced" if len(text) > 4096 else "Standard"}
    params.update({"Tags": tags} if tags is not None else {"Overwrite": True})
    return Change("saved preferences", name, "put_parameter", params, why)


def _delete_saved(parameter: Parameter, why: str) -> Change:
    return Change("saved preferences", parameter.name, "delete_parameter", {"Name": parameter.name}, why)


def _update(name: str, text: str) -> dict[str, Any]:
    return {"Name": name, "Content": text, "DocumentVersion": "$LATEST", "DocumentFormat": "JSON"}
