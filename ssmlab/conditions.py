"""A policy statement's Condition block evaluated against a request's context. Pure.

`ssmlab.policy` assumes a Condition matches when it knows nothing of the request (what the agent's
role may do in general). Given the request's context — the target's tags (`ssm:resourceTag/KEY`,
`aws:ResourceTag/KEY`), the caller's (`aws:PrincipalTag/KEY`), `aws:userid` — the block is decided,
as IAM decides it (IAM User Guide, "IAM JSON policy elements: Condition operators" and "Policy
variables"): every operator in the block must match (AND), any value of one key may match (OR);
condition keys are case-insensitive, values compared as the operator says; a key absent from the
request makes a positive operator false and a negated one (StringNotEquals, ...) true; `...IfExists`
is true when the key is absent; `Null: true` asks for absence. Policy variables (`${aws:username}`)
in values are replaced with the request's value (a variable the request lacks matches nothing).
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL = {"${*}": "*", "${?}": "?", "${$}": "$"}


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def lowered(context: Mapping[str, Any]) -> dict[str, list[str]]:
    """The request's context with keys in lower case (IAM's keys are case-insensitive), every value a list."""
    return {str(k).lower(): [str(v) for v in _as_list(value)] for k, value in context.items()}


def substitute(text: str, context: Mapping[str, list[str]]) -> str | None:
    """`text` with each ${key} replaced by the request's value; None when the request lacks a key."""
    missing = False

    def value(match: re.Match) -> str:
        nonlocal missing
        if match.group(0) in _SPECIAL:
            return _SPECIAL[match.group(0)]
        found = context.get(match.group(1).lower())
        if not found:
            missing = True
            return ""
        return found[0]

    result = _VARIABLE.sub(value, str(text))
    return None if missing else result


def _glob(pattern: str, value: str, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def _compare(operator: str, expected: str, actual: str) -> bool:
    if operator in ("StringEquals", "ArnEquals"):
        return expected == actual if operator == "StringEquals" else _glob(expected, actual)
    if operator == "StringEqualsIgnoreCase":
        return expected.lower() == actual.lower()
    if operator in ("StringLike", "ArnLike"):
        return _glob(expected, actual)
    if operator == "Bool":
        return expected.lower() == actual.lower()
    raise KeyError(operator)


_NEGATED = {"StringNotEquals": "StringEquals", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
            "StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike"}
KNOWN = ("StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike", "Bool", "Null", *_NEGATED)


def _operator_matches(operator: str, key: str, expected: Iterable[Any], context: Mapping[str, list[str]]) -> bool:
    qualifier, _, operator = operator.rpartition(":")  # ForAnyValue: / ForAllValues:
    if_exists = operator.endswith("IfExists")
    operator = operator[: -len("IfExists")] if if_exists else operator
    actual = context.get(key.lower())
    wanted = [substitute(str(e), context) for e in _as_list(expected)]
    wanted_values = [w for w in wanted if w is not None]
    if operator == "Null":
        return (actual is None) == (str(_as_list(expected)[0]).lower() == "true")
    if operator not in KNOWN:
        return False  # an operator this evaluator does not know never allows (a Deny with it is not relied on)
    if actual is None:
        return if_exists or operator in _NEGATED or qualifier == "ForAllValues"
    positive = _NEGATED.get(operator, operator)
    hits = [any(_compare(positive, w, a) for w in wanted_values) for a in actual]
    matched = all(hits) if qualifier == "ForAllValues" else any(hits)
    return not matched if operator in _NEGATED else matched


def matches(condition: Mapping[str, Any] | None, context: Mapping[str, Any]) -> bool:
    """Whether a statement's Condition block holds for a request whose context is `context`."""
    return holds(condition, lowered(context))


def holds(condition: Mapping[str, Any] | None, known: Mapping[str, list[str]]) -> bool:
    """`matches`, given the context already `lowered` (a policy's statements share one)."""
    if not condition:
        return True
    return all(_operator_matches(operator, key, expected, known)
               for operator, block in condition.items() if isinstance(block, Mapping)
               for key, expected in block.items())
