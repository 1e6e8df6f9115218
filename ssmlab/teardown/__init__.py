"""Teardown: remove every resource of a lab, and only those, in AWS's dependency order.

- `plan` (pure, `plan.py`): from the lab's `LabResources`, the ordered `Deletion`s, each a boto3 call as
  data with why it comes where it does; `leftovers` is what the audit counts as left.
- `execute` and `audit` (`execute.py`): make the calls, with retries and waiters; read the region again.
- `remove` (`removal.py`): one lab, read, planned, confirmed, executed and audited under the lab's lock.
- `cleanup` (`cleanup.py`): `ssmlab cleanup` and notebook 11 as one call (one lab, or every lab older than
  an age; whether to ask; what to say), returning a `CleanupReport`.
- `fallback` (`fallback.py`): the same removal standing in for a cleanup notebook that failed in `ssmlab run`.
"""

from ssmlab.teardown.cleanup import CleanupReport, NotConfirmed, asks, cleanup, parse_duration
from ssmlab.teardown.execute import NOT_FOUND, RETRYABLE, Outcome, audit, execute
from ssmlab.teardown.plan import STEPS, Deletion, Leftover, leftovers, plan
from ssmlab.teardown.removal import Removal, remove, shown

__all__ = [
    "CleanupReport", "NotConfirmed", "asks", "cleanup", "parse_duration",
    "NOT_FOUND", "RETRYABLE", "Outcome", "audit", "execute",
    "STEPS", "Deletion", "Leftover", "leftovers", "plan",
    "Removal", "remove", "shown",
]
