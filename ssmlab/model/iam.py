"""IAM as a lab uses it: the instance's role and profile with their documents (a snapshot), and the lab's roles
and profiles by name (what teardown removes). Pure data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ssmlab.model.tags import Tags


@dataclass(frozen=True)
class Policy:
    """A managed (arn set) or inline (arn None) policy with its document."""

    name: str
    document: dict = field(hash=False)
    arn: str | None = None


@dataclass(frozen=True)
class Role:
    name: str
    arn: str
    trust_policy: dict = field(hash=False)
    managed_policies: tuple[Policy, ...] = ()
    inline_policies: tuple[Policy, ...] = ()
    tags: Tags = ()


@dataclass(frozen=True)
class InstanceProfile:
    name: str
    arn: str
    role_names: tuple[str, ...]
    tags: Tags = ()


@dataclass(frozen=True)
class IamRole:
    name: str
    arn: str
    created: datetime | None = None
    managed_policy_arns: tuple[str, ...] = ()
    inline_policy_names: tuple[str, ...] = ()
    tags: Tags = ()


@dataclass(frozen=True)
class IamProfile:
    name: str
    arn: str
    role_names: tuple[str, ...] = ()
    created: datetime | None = None
    tags: Tags = ()
