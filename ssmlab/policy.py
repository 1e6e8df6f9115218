"""Pure IAM evaluation of identity policies: does this role let the SSM Agent do its job?

Offline and without IAM's policy simulator (moto lacks it, FACTS.md), so this follows the
documented evaluation logic for identity-based policies in one account (IAM User Guide,
"Policy evaluation logic"): an explicit Deny in any statement wins, else any Allow allows,
else the request is implicitly denied. Conditions cannot be evaluated without the request
context, so a statement with a Condition is assumed to match and the Decision says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Iterator, Mapping

from ssmlab import conditions
from ssmlab.model import Policy, Role

# What the agent calls, from AWS managed policy AmazonSSMManagedInstanceCore (FACTS.md;
# Systems Manager User Guide, "Configure instance permissions required for Systems Manager").
AGENT_REGISTRATION_ACTIONS = ("ssm:UpdateInstanceInformation",)
CONTROL_CHANNEL_ACTIONS = ("ssmmessages:CreateControlChannel", "ssmmessages:OpenControlChannel")
DATA_CHANNEL_ACTIONS = ("ssmmessages:CreateDataChannel", "ssmmessages:OpenDataChannel")
EC2MESSAGES_ACTIONS = ("ec2messages:GetMessages",)
SESSION_MANAGER_ACTIONS = AGENT_REGISTRATION_ACTIONS + CONTROL_CHANNEL_ACTIONS + DATA_CHANNEL_ACTIONS + EC2MESSAGES_ACTIONS


@dataclass(frozen=True)
class Decision:
    action: str
    allowed: bool
    reason: str
    source: str | None = None  # "PolicyName" or "PolicyName/Sid" of the deciding statement
    conditional: bool = False  # the deciding statement had a Condition, assumed to match


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def statements(document: dict | None) -> list[dict]:
    """A document's statements: IAM accepts Statement as one object or as a list."""
    return [s for s in _as_list((document or {}).get("Statement")) if isinstance(s, dict)]


@lru_cache(maxsize=1024)
def _pattern(glob: str, ignore_case: bool) -> re.Pattern:
    """IAM wildcards: `*` any run of characters, `?` one character, everything else literal.

    A policy variable such as ${aws:username} in a Resource stands for a value known only
    at request time, so it is matched as a wildcard (and reported as conditional).
    """
    parts = re.split(r"(\$\{[^}]*\}|\*|\?)", glob)
    regex = "".join(".*" if p == "*" or p.startswith("${") else "." if p == "?" else re.escape(p) for p in parts)
    return re.compile(regex, (re.IGNORECASE | re.DOTALL) if ignore_case else re.DOTALL)


def matches(glob: str, value: str, *, ignore_case: bool = False) -> bool:
    return bool(_pattern(str(glob), ignore_case).fullmatch(value))


def _action_matches(statement: dict, action: str) -> bool:
    """Action names are case-insensitive (IAM User Guide, "IAM JSON policy elements: Action")."""
    if "Action" in statement:
        return any(matches(a, action, ignore_case=True) for a in _as_list(statement["Action"]))
    if "NotAction" in statement:
        return not any(matches(a, action, ignore_case=True) for a in _as_list(statement["NotAction"]))
    return False  # a statement without Action or NotAction is invalid and matches nothing


def _resource_matches(statement: dict, resource: str, context: dict | None = None) -> bool:
    """ARNs are case-sensitive. Resource "*" is what IAM sees for actions without resource-level
    permissions (ssmmessages, ec2messages), so only a pattern matching the literal "*" applies
    to it, and a statement limited to some ARNs does not. Given the request's context, a policy
    variable in a Resource takes the request's value (`conditions.substitute`)."""
    def patterns(key: str) -> list[str]:
        found = [str(r) for r in _as_list(statement[key])]
        if context is None:
            return found
        return [s for s in (conditions.substitute(r, context) for r in found) if s is not None]

    if "Resource" in statement:
        return any(matches(r, resource) for r in patterns("Resource"))
    if "NotResource" in statement:
        return not any(matches(r, resource) for r in patterns("NotResource"))
    return False


def _uses_variables(statement: dict) -> bool:
    return any("${" in str(r) for r in _as_list(statement.get("Resource")) + _as_list(statement.get("NotResource")))


def _source(policy: Policy, statement: dict) -> str:
    # IAM policy names cannot contain "/", so it separates the Sid unambiguously.
    return f"{policy.name}/{statement['Sid']}" if statement.get("Sid") else policy.name


def _matching(policies: Iterable[Policy], action: str, resource: str,
              context: Mapping[str, Any] | None) -> Iterator[tuple[Policy, dict, bool]]:
    known = conditions.lowered(context) if context is not None else None
    for policy in policies:
        for statement in statements(policy.document):
            if not (_action_matches(statement, action) and _resource_matches(statement, resource, known)):
                continue
            if known is None:
                yield policy, statement, bool(statement.get("Condition")) or _uses_variables(statement)
            elif conditions.holds(statement.get("Condition"), known):
                yield policy, statement, False


def evaluate(policies: Iterable[Policy], action: str, resource: str = "*",
             context: Mapping[str, Any] | None = None) -> Decision:
    """IAM's verdict for `action` on `resource` (an ARN, or "*") under these identity policies.

    Without `context` a Condition is assumed to match (and the Decision says so); with the request's
    context (condition keys to values, e.g. {"ssm:resourceTag/ssmlab:lab": "demo"}) it is decided."""
    allows, denies = [], []
    for policy, statement, conditional in _matching(policies, action, resource, context):
        effect = str(statement.get("Effect", "")).capitalize()
        if effect == "Deny":
            denies.append((policy, statement, conditional))
        elif effect == "Allow":
            allows.append((policy, statement, conditional))
    # An unconditional statement decides for certain; prefer it over one whose Condition was assumed.
    denies.sort(key=lambda m: m[2])
    allows.sort(key=lambda m: m[2])
    if denies:
        policy, statement, conditional = denies[0]
        source = _source(policy, statement)
        reason = f"{action} is explicitly denied by {source}" + (" (if its Condition matches)" if conditional else "")
        return Decision(action, False, reason, source, conditional)
    if allows:
        policy, statement, conditional = allows[0]
        source = _source(policy, statement)
        reason = f"{action} is allowed by {source}" + (" (if its Condition matches)" if conditional else "")
        return Decision(action, True, reason, source, conditional)
    return Decision(action, False, f"no statement allows {action} (implicit deny)")


def missing_actions(policies: Iterable[Policy], actions: Iterable[str], resource: str = "*") -> tuple[str, ...]:
    """The actions these policies do not allow, in the order asked."""
    policies = tuple(policies)
    return tuple(a for a in actions if not evaluate(policies, a, resource).allowed)


def role_policies(role: Role) -> tuple[Policy, ...]:
    """Every identity policy of a role: the attached managed ones, then the inline ones."""
    return tuple(role.managed_policies) + tuple(role.inline_policies)


def assumed_role_arn(role_arn: str, session_name: str) -> str:
    """The ARN a role's session acts as (an instance profile's session is named after the instance):
    arn:aws:sts::<account>:assumed-role/<role name>/<session>, what AWS's AccessDenied messages name."""
    parts = role_arn.split(":")
    if len(parts) < 6 or not parts[4]:
        return role_arn
    return f"arn:{parts[1]}:sts::{parts[4]}:assumed-role/{parts[5].rsplit('/', 1)[-1]}/{session_name}"


def trusts_service(trust_policy: dict | None, service: str = "ec2.amazonaws.com") -> bool:
    """Whether the role's trust policy lets `service` call sts:AssumeRole.

    EC2 hands an instance profile's role credentials to the instance only when the role
    trusts ec2.amazonaws.com (IAM User Guide, "Use an IAM role to grant permissions to
    applications running on Amazon EC2 instances"). A Deny for the service wins.
    """
    allowed = False
    for statement in statements(trust_policy):
        if not _action_matches(statement, "sts:AssumeRole"):
            continue
        effect = str(statement.get("Effect", "")).capitalize()
        principal = statement.get("Principal")
        services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
        everyone = principal == "*" or (isinstance(principal, dict) and "*" in _as_list(principal.get("AWS")))
        if effect == "Deny" and (service in services or everyone):
            return False
        # Only a named service principal counts as trust: a "*" principal is not relied on here.
        allowed = allowed or (effect == "Allow" and service in services)
    return allowed
