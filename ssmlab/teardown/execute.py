"""Running a teardown plan against AWS (real or emulated), and the audit after it.

`execute` makes each planned call in order: bounded retries on DependencyViolation and throttling (each
explained in one line), waiters for what AWS removes asynchronously (instances, endpoints and their network
interfaces), and what is already gone is skipped, so an interrupted cleanup is simply run again. `audit`
reads the region again (through `inventory`) and lists whatever still carries the lab's tag.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from ssmlab.aws import error_code
from ssmlab.errors import LabError
from ssmlab.lab import Lab
from ssmlab.teardown.plan import Deletion, Leftover, leftovers

NOT_FOUND = {
    "InvalidInstanceID.NotFound", "InvalidVpcEndpointId.NotFound", "InvalidInstanceConnectEndpointId.NotFound",
    "InvalidGroup.NotFound", "InvalidGroupId.NotFound", "InvalidSubnetID.NotFound", "InvalidRouteTableID.NotFound",
    "InvalidNetworkAclID.NotFound", "InvalidVpcID.NotFound", "InvalidNetworkInterfaceID.NotFound",
    "InvalidPermission.NotFound", "NoSuchEntity", "NoSuchBucket", "ResourceNotFoundException", "InvalidDocument",
    "ParameterNotFound", "DoesNotExistException", "NoSuchKey",
    "NotFoundException", "KMSInvalidStateException",  # KMS: no such key or alias; a key already pending deletion
}
RETRYABLE = {
    "DependencyViolation": "something still depends on it",
    "Throttling": "AWS is throttling the calls",
    "ThrottlingException": "AWS is throttling the calls",
    "RequestLimitExceeded": "AWS is throttling the calls",
    "TooManyRequestsException": "AWS is throttling the calls",
    "SlowDown": "S3 asks to slow down",
    "DeleteConflict": "IAM still sees something attached",
    "IncorrectState": "the resource is still changing state",
}


@dataclass(frozen=True)
class Outcome:
    """What became of one planned deletion."""

    deletion: Deletion
    status: str  # "deleted" | "already gone" | "failed"
    detail: str = ""
    attempts: int = 1

    def to_json(self) -> dict[str, Any]:
        d = self.deletion
        return {"status": self.status, "kind": d.kind, "id": d.resource_id, "call": d.call, "detail": self.detail}


def execute(
    lab: Lab,
    deletions: list[Deletion],
    progress: Callable[[Outcome], None] | None = None,
    explain: Callable[[str], None] | None = None,
    attempts: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Outcome]:
    """Run the deletions in order; what is already gone is skipped, a failure is reported and the rest goes on."""
    from botocore.exceptions import BotoCoreError, ClientError

    attempts = attempts or (6 if lab.is_emulator else 10)
    base_delay = 0.5 if lab.is_emulator else 5.0
    outcomes: list[Outcome] = []
    for deletion in deletions:
        outcome = None
        for attempt in range(1, attempts + 1):
            try:
                _call(lab, deletion)
                _wait(lab, deletion, sleep)
                outcome = Outcome(deletion, "deleted", attempts=attempt)
            except ClientError as error:
                code = error_code(error)
                if code in NOT_FOUND:
                    outcome = Outcome(deletion, "already gone", attempts=attempt)
                elif code == "DependencyViolation" and deletion.blocked_by:  # waiting would not help: say why
                    outcome = Outcome(deletion, "failed", f"{code}: held by {', '.join(deletion.blocked_by)}, which is "
                                      "not the lab's (see the note before the plan)", attempts=attempt)
                elif code in RETRYABLE and attempt < attempts:
                    delay = min(base_delay * 2 ** (attempt - 1), 30.0)
                    if explain:
                        explain(f"retry {attempt}/{attempts - 1} of {deletion.kind} {deletion.resource_id} in {delay:g}s: "
                                f"{code} ({RETRYABLE[code]})")
                    sleep(delay)
                    continue
                else:
                    message = error.response.get("Error", {}).get("Message", "")
                    outcome = Outcome(deletion, "failed", f"{code}: {message}", attempts=attempt)
            except (BotoCoreError, TimeoutError, LabError) as error:  # LabError: a waiter gave up
                outcome = Outcome(deletion, "failed", str(error), attempts=attempt)
            break
        assert outcome is not None
        outcomes.append(outcome)
        if progress:
            progress(outcome)
    return outcomes


def _call(lab: Lab, deletion: Deletion) -> None:
    client = lab.client(deletion.service)
    if deletion.operation == "update_document":  # restoring preferences: make the restored version the default
        from ssmlab.steps.session_logging import set_content

        set_content(client, deletion.params["Name"], deletion.params["Content"])
        return
    answer = getattr(client, deletion.operation)(**deletion.params)
    if deletion.operation == "delete_vpc_endpoints":  # failures come back in the answer, not as an error
        for failure in answer.get("Unsuccessful", []):
            from botocore.exceptions import ClientError

            raise ClientError({"Error": failure.get("Error", {})}, "DeleteVpcEndpoints")


def _wait(lab: Lab, deletion: Deletion, sleep: Callable[[float], None]) -> None:
    if deletion.wait is None:
        return
    if deletion.wait == "instance_terminated":
        from ssmlab.aws import wait

        wait(lab, "ec2", "instance_terminated", InstanceIds=deletion.params["InstanceIds"])
        return
    ec2 = lab.client("ec2")
    config = lab.waiter_config
    for _ in range(config["MaxAttempts"]):
        if deletion.wait == "vpc_endpoint_gone" and vpc_endpoint_gone(
            ec2, deletion.params["VpcEndpointIds"][0], deletion.releases
        ):
            return
        if deletion.wait == "eice_gone" and _eice_gone(ec2, deletion.params["InstanceConnectEndpointId"]):
            return
        sleep(config["Delay"])
    raise TimeoutError(f"{deletion.resource_id} was still being deleted after {config['Delay'] * config['MaxAttempts']}s")


def vpc_endpoint_gone(ec2: Any, endpoint_id: str, interface_ids: tuple[str, ...]) -> bool:
    """Gone when AWS no longer lists it (or lists it deleted) and its network interfaces are released."""
    from ssmlab.aws import get_or_none

    found = get_or_none(ec2.describe_vpc_endpoints, missing=("InvalidVpcEndpointId.NotFound",), VpcEndpointIds=[endpoint_id])
    if any(str(e.get("State", "")).lower() != "deleted" for e in (found or {}).get("VpcEndpoints", [])):
        return False
    if not interface_ids:
        return True
    left = ec2.describe_network_interfaces(Filters=[{"Name": "network-interface-id", "Values": list(interface_ids)}])
    return not left.get("NetworkInterfaces")


def _eice_gone(ec2: Any, endpoint_id: str) -> bool:
    from ssmlab.aws import get_or_none

    found = get_or_none(
        ec2.describe_instance_connect_endpoints, missing=("InvalidInstanceConnectEndpointId.NotFound",),
        InstanceConnectEndpointIds=[endpoint_id],
    )
    return all(e.get("State") == "delete-complete" for e in (found or {}).get("InstanceConnectEndpoints", []))


def audit(lab: Lab) -> list[Leftover]:
    """Whatever still carries the lab's tag in the region, plus IAM names with the lab's prefix under /ssmlab/."""
    from ssmlab import inventory
    from ssmlab.steps import iam
    from ssmlab.steps.iam import IAM_PATH

    resources = inventory.lab_resources(lab)
    left = leftovers(resources)
    roles, profiles = inventory.lab_iam_names(lab, IAM_PATH)
    # The kit's own names for this lab, even without the tag (another lab's 'demo-x-...' is not ours).
    seen = {x.resource_id for x in left}
    left += [Leftover("role (untagged)", n) for n in roles if n == iam.role_name(lab) and n not in seen]
    left += [Leftover("instance profile (untagged)", n) for n in profiles if n == iam.profile_name(lab) and n not in seen]
    return left
