"""What Systems Manager itself knows, for the doctor: not part of a snapshot, which the emulator's agents also
take and which must not depend on Systems Manager's answers."""

from __future__ import annotations

import json
from typing import Any

from ssmlab.aws import describe_all, explained
from ssmlab.lab import Lab
from ssmlab.model import NodeFacts

DHMC_SETTING = "/ssm/managed-instance/default-ec2-instance-management-role"


UNKNOWN_ANSWERS = ("NotImplemented", "AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                   "ServiceSettingNotFound", "InvalidDocument")


def _unknown_on_refusal(call: Any, **kwargs: Any) -> Any:
    """A call whose refusal (no permission, not emulated) means 'unknown', not a failure."""
    from botocore.exceptions import ClientError

    try:
        return call(**kwargs)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in UNKNOWN_ANSWERS:
            return None
        raise


def node_facts(lab: Lab, instance_ids: list[str]) -> dict[str, NodeFacts]:
    """One DescribeInstanceInformation per 50 instances (the filter's limit), and their EC2 status checks
    (one DescribeInstanceStatus per 100) — `initializing` tells an instance that is still booting."""
    ssm, ec2 = lab.client("ssm"), lab.client("ec2")
    checks: dict[str, str] = {}
    for start in range(0, len(instance_ids), 100):
        with explained("reading the instances' status checks"):
            for item in describe_all(ec2, "describe_instance_status", "InstanceStatuses",
                                     InstanceIds=instance_ids[start : start + 100], IncludeAllInstances=True):
                checks[item["InstanceId"]] = (item.get("InstanceStatus") or {}).get("Status")
    facts = {i: NodeFacts(i, None, status_check=checks.get(i)) for i in instance_ids}
    for start in range(0, len(instance_ids), 50):
        chunk = instance_ids[start : start + 50]
        with explained("asking Systems Manager which instances are managed nodes"):
            items = describe_all(
                ssm, "describe_instance_information", "InstanceInformationList",
                Filters=[{"Key": "InstanceIds", "Values": chunk}],
            )
        for item in items:
            facts[item["InstanceId"]] = NodeFacts(
                item["InstanceId"], item.get("PingStatus"), item.get("AgentVersion"),
                f"{item.get('PlatformName', '')} {item.get('PlatformVersion', '')}".strip(), item.get("LastPingDateTime"),
                checks.get(item["InstanceId"]),
            )
    return facts


def connection_status(lab: Lab, instance_id: str) -> str | None:
    """GetConnectionStatus: 'connected' when a session could start now; None when it cannot be asked."""
    with explained(f"asking Session Manager whether {instance_id} is connected"):
        answer = _unknown_on_refusal(lab.client("ssm").get_connection_status, Target=instance_id)
    return answer and answer.get("Status")


def session_preferences(lab: Lab) -> dict | None:
    """The inputs of the SSM-SessionManagerRunShell preferences document, if there is one."""
    with explained("reading the Session Manager preferences"):
        document = _unknown_on_refusal(
            lab.client("ssm").get_document, Name="SSM-SessionManagerRunShell", DocumentFormat="JSON"
        )
    return json.loads(document["Content"]).get("inputs", {}) if document else None


def default_host_management_role(lab: Lab) -> str | None:
    """The Default Host Management Configuration role, when the service setting names one."""
    with explained("reading the Default Host Management Configuration setting"):
        answer = _unknown_on_refusal(lab.client("ssm").get_service_setting, SettingId=DHMC_SETTING)
    value = answer and answer.get("ServiceSetting", {}).get("SettingValue")
    return value if value and value != "$None" else None


def simulate_role(lab: Lab, role_arn: str, actions: tuple[str, ...]) -> tuple[str, ...] | None:
    """The actions iam:SimulatePrincipalPolicy says the role may not do, or None if it cannot be asked."""
    with explained(f"simulating the policies of {role_arn}"):
        answer = _unknown_on_refusal(
            lab.client("iam").simulate_principal_policy, PolicySourceArn=role_arn, ActionNames=list(actions)
        )
    if answer is None:
        return None
    return tuple(r["EvalActionName"] for r in answer["EvaluationResults"] if r["EvalDecision"] != "allowed")
