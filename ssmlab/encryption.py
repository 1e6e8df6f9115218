"""Session encryption, from the instance's side: what a KMS key in the preferences asks of it. Pure.

When the Session Manager preferences name a key (`kmsKeyId`), every session shakes hands:
the client (Session Manager plugin, console) makes a data key with kms:GenerateDataKey and
sends it encrypted; the agent decrypts it with kms:Decrypt, as the instance role, through
the kms endpoint, and fails the session if it cannot ("Fetching data key failed: Unable to
retrieve data key, Error when decrypting data key ...": aws/amazon-ssm-agent,
`agent/session/datachannel/datachannel.go`, `agent/session/crypto/blockcipher.go`,
`kmsservice.go`). So on the instance's side three things must hold, each a doctor code:

  KMS_KEY_NOT_USABLE            the key is disabled, pending deletion or gone
  KMS_ENDPOINT_UNREACHABLE      the agent has no path to kms on 443 (no endpoint, a blocked hop)
  ROLE_MISSING_KMS_PERMISSIONS  the instance role does not allow kms:Decrypt on the key

The person starting the session needs kms:GenerateDataKey on the key too; that is their own
identity's policy, which the doctor does not see. KMS encryption needs agent 2.3.539.0 or
later (User Guide, "Session Manager prerequisites"). The key policy is taken to let IAM
policies grant the key's use, as the default key policy does (KMS Developer Guide).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ssmlab import fixes, kmskey, netpath, policy
from ssmlab.findings import Fix, aws
from ssmlab.model import Instance, LabState

AGENT_ACTIONS = ("kms:Decrypt",)  # what the agent calls (kmsservice.go); GenerateDataKey is the client's call
KEY_ID_RE = re.compile(r"(mrk-)?[0-9a-f-]{32,36}")
CODES = ("KMS_KEY_NOT_USABLE", "KMS_ENDPOINT_UNREACHABLE", "ROLE_MISSING_KMS_PERMISSIONS")
DATA_KEY_FAILED = "Fetching data key failed: Unable to retrieve data key, Error when decrypting data key"  # the agent's


@dataclass(frozen=True)
class Problem:
    code: str
    resource: str | None
    message: str
    fix: Fix
    services: tuple[str, ...] = ()


def key_ref(preferences: dict | None) -> str | None:
    return str((preferences or {}).get("kmsKeyId") or "") or None


def key_arn(state: LabState, ref: str, role_arn: str | None) -> str | None:
    """The ARN IAM authorises kms:Decrypt against: from the snapshot's keys, the reference itself, or a bare key id
    in the role's account; None for an alias the snapshot could not resolve."""
    known = kmskey.find(state.kms_keys, ref)
    if known is not None:
        return known.arn
    if ref.startswith("arn:") and ":key/" in ref:
        return ref
    parts = (role_arn or "").split(":")
    if KEY_ID_RE.fullmatch(ref) and len(parts) > 4 and parts[4]:
        return f"arn:{parts[1]}:kms:{state.region}:{parts[4]}:key/{ref}"
    return None


def check(state: LabState, instance_id: str, preferences: dict | None) -> list[Problem]:
    """Why a session to this instance would fail on the KMS handshake (nothing when the preferences name no key)."""
    ref = key_ref(preferences)
    instance = state.instance(instance_id)
    if ref is None or instance is None:
        return []
    problems: list[Problem] = []
    key = kmskey.find(state.kms_keys, ref)
    if key is not None and key.state != kmskey.ENABLED:
        enable = aws("kms", "enable-key", "--key-id", key.key_id)
        problems.append(Problem(
            "KMS_KEY_NOT_USABLE", key.arn, f"the Session Manager preferences name the KMS key {ref}, which is "
            f"{key.state}: every session fails its handshake",
            Fix((aws("kms", "cancel-key-deletion", "--key-id", key.key_id), enable))
            if key.state == kmskey.PENDING_DELETION else Fix((enable,), "{0}, or name another key in the preferences "
                                                             "(aws ssm update-document --name SSM-SessionManagerRunShell ...)"),
            ("kms",),
        ))
    hop = _blocked_hop(state, instance_id)
    if hop is not None:
        problems.append(Problem(
            "KMS_ENDPOINT_UNREACHABLE", "kms", f"sessions are encrypted with the KMS key {ref}, but the agent cannot "
            f"reach kms to decrypt the session's data key: {hop.detail} — sessions will fail to start",
            _endpoint_fix(state, instance, hop), ("kms",),
        ))
    role, arn, missing = _role_check(state, instance, ref)
    if role is not None and missing:
        problems.append(Problem(
            "ROLE_MISSING_KMS_PERMISSIONS", role.arn, f"the role {role.name} does not allow {', '.join(missing)} "
            f"on the session key {arn or ref}: the agent cannot decrypt the session's data key, so sessions fail",
            Fix((fixes.put_role_policy(role.name, f"{state.lab}-session-encryption" if state.lab else "session-encryption",
                                       ["kms:Decrypt", "kms:GenerateDataKey"], arn or ref),),
                why='User Guide, "Create a custom IAM role for Session Manager"'), ("kms",),
        ))
    return problems


def session_problem(state: LabState, instance_id: str, ref: str, key_state: str | None = None) -> str | None:
    """The agent's own failure for a session while the preferences name `ref` (the emulator fails sessions with
    it): its words (datachannel.go, blockcipher.go, kmsservice.go), then the cause as KMS or the network gives it."""
    prefix = DATA_KEY_FAILED
    instance = state.instance(instance_id)
    if instance is None:
        return None
    if key_state is not None and key_state != kmskey.ENABLED:
        said = {"Disabled": "disabled", "PendingDeletion": "pending deletion"}.get(key_state, key_state)
        return f"{prefix} KMSInvalidStateException: {ref} is {said}."  # KMS's wording for a key in that state
    hop = _blocked_hop(state, instance_id)
    if hop is not None:
        return f"{prefix} RequestError: send request failed: {netpath.hostname('kms', state.region)}:443: {hop.detail}"
    role, arn, missing = _role_check(state, instance, ref)
    if role is not None and missing:
        caller = policy.assumed_role_arn(role.arn, instance_id)
        return (f"{prefix} AccessDeniedException: User: {caller} is not authorized to perform: kms:Decrypt on "
                f"resource: {arn or ref} because no identity-based policy allows the kms:Decrypt action")
    return None


def _blocked_hop(state: LabState, instance_id: str):
    path = netpath.path(state, instance_id, "kms")
    return None if path.reachable else path.first_failure


def _role_check(state: LabState, instance: Instance, ref: str):
    """(role, the key's ARN or None, the agent's actions the role does not allow on it)."""
    role = state.instance_role(instance)
    if role is None:
        return None, None, ()  # no profile: the doctor's NO_INSTANCE_PROFILE says it, and no session starts anyway
    arn = key_arn(state, ref, role.arn)
    policies = policy.role_policies(role)
    missing = (policy.missing_actions(policies, AGENT_ACTIONS, arn) if arn else
               tuple(a for a in AGENT_ACTIONS if not _allowed_on_some_key(policies, a)))
    return role, arn, missing


def _allowed_on_some_key(policies, action: str) -> bool:
    """An alias the snapshot could not resolve: any Allow of the action counts (a policy may name the key's ARN)."""
    return any(str(s.get("Effect")) == "Allow" and any(policy.matches(a, action, ignore_case=True) for a in
               ([s["Action"]] if isinstance(s.get("Action"), str) else s.get("Action") or []))
               for p in policies for s in policy.statements(p.document))


def _endpoint_fix(state: LabState, instance: Instance, hop) -> Fix:
    fix = fixes.for_hop(state, instance, hop, "kms")
    return Fix(fix.commands, "{0} (ssmlab build --session-encryption creates it)") if hop.code == "ENDPOINT_MISSING" else fix
