"""A KMS key as the lab sees it: the session-encryption key and the one the preferences name. Pure data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ssmlab.model.tags import Tags

PENDING_DELETION = "PendingDeletion"
ENABLED = "Enabled"
DELETION_DAYS = 7  # ScheduleKeyDeletion's shortest waiting period (AWS KMS API reference, PendingWindowInDays)


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
