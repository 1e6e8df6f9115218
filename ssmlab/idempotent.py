"""Create exactly once, even when a response is lost or another machine builds the same lab.

A lost response is the hard case: AWS created the resource, the answer never arrived, and
botocore's retry creates it a second time. Two remedies, as AWS recommends them
(EC2 User Guide, "Ensuring idempotency in Amazon EC2 API requests"):

- **Client tokens**, where the action takes one (RunInstances, CreateVpcEndpoint,
  CreateRouteTable): the kit derives the token from the lab and the request itself, so a
  retry — botocore's own, a re-run, another machine sending the same request — is answered
  with the first resource. AWS keeps a token bound to its resource after the resource is
  gone (RunInstances: at least 24 hours after termination), so a token that answers with a
  deleted resource is retired and the next generation of the token is used.
- **Adopt by tag or name**, where it takes none (CreateVpc, CreateSubnet,
  CreateSecurityGroup, IAM, CloudWatch Logs, S3, SSM documents): the create is sent without
  botocore's automatic retry. When its outcome is unknown (the connection dropped, a read
  timed out, a 5xx) the kit looks the resource up by its tag or name and adopts what it
  finds; only when nothing is there does it send the create again. An "already exists"
  answer (another process was first, or a retry after a lost response) is adopted alike.
  Throttling means AWS did nothing, so it is simply retried after a back-off.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

from ssmlab.aws import error_code, explain
from ssmlab.errors import LabError

T = TypeVar("T")

GENERATIONS = 20
"""Retired tokens tried at most for one resource (each retirement is a deleted resource that used it)."""


def client_token(lab, purpose: str, request: dict[str, Any], generation: int = 1) -> str:
    """A token (<= 64 ASCII characters, as AWS requires) that is the same for the same lab, purpose and
    request on any machine, and differs from one generation to the next."""
    basis = json.dumps([lab.target, lab.region, lab.name, purpose, request, generation], sort_keys=True, default=str)
    return f"ssmlab-{hashlib.sha256(basis.encode()).hexdigest()[:40]}-g{generation}"


def create_with_token(
    lab,
    purpose: str,
    request: dict[str, Any],
    call: Callable[..., T],
    alive: Callable[[T], bool],
) -> T:
    """`call(**request, ClientToken=...)`, moving to the token's next generation while the answer is a resource
    that is already gone (or the token was used before with other parameters)."""
    from botocore.exceptions import ClientError

    for generation in range(1, GENERATIONS + 1):
        try:
            result = call(**request, ClientToken=client_token(lab, purpose, request, generation))
        except ClientError as error:
            if error_code(error) == "IdempotentParameterMismatch":
                continue
            raise
        if alive(result):
            return result
    raise LabError(f"{purpose}: {GENERATIONS} client tokens in a row answered with a resource that is gone; "
                   "clean the lab up and build it again")


def create_or_adopt(
    lab,
    service: str,
    what: str,
    create: Callable[[Any], T],
    find: Callable[[], T | None],
    *,
    exists: tuple[str, ...] = (),
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T, bool]:
    """Create once with a client that does not retry by itself; returns (resource, created).

    `create(client)` sends the create; `find()` looks the resource up (None: not there). An error code in
    `exists` means the resource is already there: it is adopted.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    client = lab.client(service, retries=False)
    attempts = lab.create_attempts
    last: Exception | None = None
    for attempt in range(1, attempts + 1):
        try:
            with _numbered(attempt, attempts):
                return create(client), True
        except ClientError as error:
            last = error
            if error_code(error) in exists:
                found = _look(lab, find, sleep)
                if found is not None:
                    return found, False
                raise explain(error, what) from error
            if is_throttled(error):
                sleep(backoff(lab, attempt))
                continue
            if not outcome_unknown(error):
                raise explain(error, what) from error
        except BotoCoreError as error:
            last = error
            if not outcome_unknown(error):
                raise explain(error, what) from error
        found = _look(lab, find, sleep)  # the create may have happened: adopt it rather than make a second
        if found is not None:
            return found, False
        sleep(backoff(lab, attempt))
    assert last is not None
    raise explain(last, f"{what} ({attempts} attempts)") from last


_attempt = threading.local()


@contextmanager
def _numbered(number: int, limit: int) -> Iterator[None]:
    _attempt.number, _attempt.limit = number, limit
    try:
        yield
    finally:
        _attempt.number = None


def mark_attempt(request: Any, **_: Any) -> None:
    """On the single-attempt clients: say which of the kit's attempts a request is, in the header botocore uses
    for its own (`amz-sdk-request: attempt=N; max=M`), so a server's log counts the kit's retries as retries."""
    number = getattr(_attempt, "number", None)
    if number:
        request.headers["amz-sdk-request"] = f"attempt={number}; max={_attempt.limit}"


def _look(lab, find: Callable[[], T | None], sleep: Callable[[float], None]) -> T | None:
    """Look a resource up; on AWS a few times, since describe calls are eventually consistent
    (a resource created a moment ago may not be listed yet)."""
    tries, delay = (1, 0.0) if lab.is_emulator else (3, 2.0)
    for number in range(tries):
        found = find()
        if found is not None or number == tries - 1:
            return found
        sleep(delay)
    return None


def is_throttled(error: Exception) -> bool:
    """botocore's own test of a throttling error (the request did nothing)."""
    from botocore.retries.standard import RetryContext, ThrottledRetryableChecker

    response = getattr(error, "response", None)
    if not response:
        return False
    context = RetryContext(attempt_number=1, parsed_response=response)
    return ThrottledRetryableChecker().is_retryable(context)


def outcome_unknown(error: Exception) -> bool:
    """Whether AWS may have acted although the call failed: a dropped connection or read, or a 5xx answer
    (botocore's transient errors). A refused connection never reached AWS, which is safe to retry too."""
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import HTTPClientError

    if isinstance(error, (BotoConnectionError, HTTPClientError)):
        return True
    response = getattr(error, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return status >= 500 or error_code(error) in ("RequestTimeout", "RequestTimeoutException", "InternalError")


def backoff(lab, attempt: int) -> float:
    """Exponential with full jitter (as botocore backs off), capped: fast on the emulator, at AWS's pace on AWS."""
    import random

    base, cap = (0.1, 2.0) if lab.is_emulator else (1.0, 20.0)
    return random.uniform(0, min(cap, base * 2 ** attempt))
