"""Small helpers at the AWS edge: paginated describes, waiters, and errors in the learner's terms."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from ssmlab import settings
from ssmlab.errors import LabError

# What a learner should do about the AWS errors this kit is most likely to meet.
HINTS = {
    "UnauthorizedOperation": "your AWS identity is not allowed to do this; ask for the permission or use --target emulator",
    "AccessDenied": "your AWS identity is not allowed to do this; ask for the permission or use --target emulator",
    "AccessDeniedException": "your AWS identity is not allowed to do this; ask for the permission or use --target emulator",
    "VpcLimitExceeded": "the region already has as many VPCs as the account may have (5 by default); delete an unused one or pick another region",
    "InvalidAMIID.NotFound": "the AMI from the public SSM parameter is not available in this region",
    "InsufficientInstanceCapacity": "AWS has no capacity for this instance type in this AZ right now; try again or another AZ",
    "Unsupported": "this instance type or feature is not offered in this AZ; try another AZ or instance type",
    "ExpiredToken": "your AWS session has expired; log in again (aws sso login, or refresh your keys)",
    "RequestExpired": "your AWS session has expired or the clock is off; log in again",
}
_IN_CLASS = ("the class's emulator lets your keys act only on your own lab: the resource is another participant's, "
             "or the call is outside the learner policy (see it: ssmlab policy learner --lab YOUR-LAB)")
_NOT_IN_CLASS = ("the class's emulator does not accept these keys: set SSMLAB_ACCESS_KEY_ID and "
                 "SSMLAB_SECRET_ACCESS_KEY to the ones your facilitator gave you (ssmlab class keys)")
# The same codes from a class's emulator (a participant's keys are set): said in the class's terms.
CLASS_HINTS = {
    **{code: _IN_CLASS for code in ("UnauthorizedOperation", "AccessDenied", "AccessDeniedException")},
    **{code: _NOT_IN_CLASS for code in ("AuthFailure", "InvalidClientTokenId", "UnrecognizedClientException",
                                        "SignatureDoesNotMatch", "InvalidAccessKeyId")},
}


def error_code(error: Exception) -> str:
    return getattr(error, "response", {}).get("Error", {}).get("Code", "")


def explain(error: Exception, what: str) -> LabError:
    """One LabError line a learner can act on, for a botocore failure during `what`."""
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        code = error_code(error)
        message = error.response.get("Error", {}).get("Message", "")
        hint = (CLASS_HINTS.get(code) if settings.current().emulator_keys else None) or HINTS.get(code)
        return LabError(f"{what} failed: {code}: {message}" + (f" ({hint})" if hint else ""))
    return LabError(f"{what} failed: {error}")


@contextmanager
def explained(what: str) -> Iterator[None]:
    """Raise AWS's failures during `what` as an explained LabError."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise explain(error, what) from error


def get_or_none(call: Any, *, missing: tuple[str, ...] = ("NoSuchEntity",), **kwargs: Any) -> dict | None:
    """A get_* call where an error code in `missing` means 'not there (yet)' rather than a failure."""
    from botocore.exceptions import ClientError

    try:
        return call(**kwargs)
    except ClientError as error:
        if error_code(error) in missing:
            return None
        raise


READERS = 8  # reads in flight at once: a snapshot's independent describes (AWS's read limits are far higher)
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_inside = threading.local()


def together(*reads: Callable[[], Any]) -> list[Any]:
    """Run independent reads at the same time; their results, in order. When one fails, the others
    still end, and the first failure (in order) is raised. A read that calls `together` itself runs
    its reads one after the other (the pool is bounded: it never waits on itself)."""
    global _pool
    if len(reads) < 2 or getattr(_inside, "active", False):
        return [read() for read in reads]
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="ssmlab-read")
    futures = [_pool.submit(_marked, read) for read in reads]
    errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error
    return [f.result() for f in futures]


def _marked(read: Callable[[], Any]) -> Any:
    _inside.active = True
    try:
        return read()
    finally:
        _inside.active = False


def describe_all(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a paginated describe call, in as few requests as AWS allows."""
    if client.can_paginate(operation):
        items: list[dict[str, Any]] = []
        for page in client.get_paginator(operation).paginate(**kwargs):
            items.extend(page.get(key, []))
        return items
    return getattr(client, operation)(**kwargs).get(key, [])


def only(items: list[dict[str, Any]], what: str, id_key: str, lab: Any) -> dict[str, Any] | None:
    """The single resource a tag should identify; two mean the lab exists twice (two builds at once on two
    machines, or tags copied by hand), and the build stops rather than pick one."""
    if len(items) > 1:
        ids = ", ".join(str(item.get(id_key)) for item in items)
        raise LabError(
            f"lab {lab.name} has {len(items)} {what}s carrying its tag ({ids}), so part of it exists twice and bills "
            f"twice; remove the lab with `ssmlab cleanup --lab {lab.name} --region {lab.region}` and build it again"
        )
    return items[0] if items else None


def wait(lab: Any, service: str, waiter_name: str, **kwargs: Any) -> None:
    """A boto3 waiter, polling at the pace that suits the lab's target."""
    with explained(f"waiting for {waiter_name}"):
        lab.client(service).get_waiter(waiter_name).wait(WaiterConfig=lab.waiter_config, **kwargs)


_VPC_ENDPOINT_WAITERS = {
    "version": 2,
    "waiters": {
        # EC2 has no built-in waiter for endpoints; this one is written in botocore's own format.
        "VpcEndpointAvailable": {
            "operation": "DescribeVpcEndpoints",
            "delay": 5,
            "maxAttempts": 60,
            "acceptors": [
                {"state": "success", "matcher": "pathAll", "argument": "VpcEndpoints[].State", "expected": "available"},
                {"state": "failure", "matcher": "pathAny", "argument": "VpcEndpoints[].State", "expected": "failed"},
                {"state": "failure", "matcher": "pathAny", "argument": "VpcEndpoints[].State", "expected": "rejected"},
            ],
        }
    },
}


def wait_for_vpc_endpoints(lab: Any, endpoint_ids: list[str]) -> None:
    if not endpoint_ids:
        return
    from botocore.waiter import WaiterModel, create_waiter_with_client

    waiter = create_waiter_with_client("VpcEndpointAvailable", WaiterModel(_VPC_ENDPOINT_WAITERS), lab.client("ec2"))
    with explained("waiting for the VPC endpoints to become available"):
        waiter.wait(VpcEndpointIds=endpoint_ids, WaiterConfig=lab.waiter_config)
