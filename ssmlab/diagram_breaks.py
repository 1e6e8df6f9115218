"""Which drawn element each doctor finding breaks: pure over a LabState and findings (objects or their JSON).

A finding's code names the hop (codes: ssmlab.doctor; hops: ssmlab.netpath) and its `services`
the endpoints concerned; the message is never read, so rewording one changes no picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ssmlab.model import Instance, LabState, VpcEndpoint

AGENT_SERVICES = ("ssm", "ssmmessages", "ec2messages")
NETWORK_CODES = ("ENDPOINT_SG_BLOCKS_HTTPS", "INSTANCE_SG_BLOCKS_HTTPS", "NACL_BLOCKS_HTTPS",
                 "VPC_DNS_SUPPORT_DISABLED", "VPC_DNS_HOSTNAMES_DISABLED")
ENDPOINT_CODES = ("ENDPOINT_PRIVATE_DNS_DISABLED", "ENDPOINT_NOT_AVAILABLE")
CREDENTIAL_CODES = ("IMDS_DISABLED", "NO_INSTANCE_PROFILE", "ROLE_TRUST_MISSING_EC2")
INSTANCE_CODES = ("INSTANCE_NOT_FOUND", "INSTANCE_NOT_RUNNING", "AGENT_NOT_PREINSTALLED", "AGENT_PREINSTALL_UNCONFIRMED")


def _field(finding: Any, name: str) -> Any:
    return finding.get(name) if isinstance(finding, dict) else getattr(finding, name, None)


def findings_of(findings: Any) -> list[Any]:
    """Findings as given: Finding objects or their JSON, a Diagnosis or doctor report, or a list of
    those (what `checkup.checkup` returns)."""
    if findings is None:
        return []
    if isinstance(findings, dict) and "findings" in findings:
        return list(findings["findings"])
    if hasattr(findings, "findings"):
        return list(findings.findings)
    flat: list[Any] = []
    for item in findings:
        nested = isinstance(item, dict) and "findings" in item or hasattr(item, "findings")
        flat += findings_of(item) if nested else [item]
    return flat


@dataclass
class Breaks:
    """Which drawn element each finding breaks (codes per element)."""

    agent: dict[str, list[str]] = field(default_factory=dict)  # service -> codes on agent -> endpoint
    service: dict[str, list[str]] = field(default_factory=dict)  # service -> codes on endpoint -> service
    missing: dict[str, list[str]] = field(default_factory=dict)  # service -> codes of an absent endpoint
    credentials: list[str] = field(default_factory=list)
    instance: list[str] = field(default_factory=list)
    vpc: list[str] = field(default_factory=list)
    endpoint_nodes: dict[str, list[str]] = field(default_factory=dict)  # endpoint id -> codes
    groups: dict[str, list[str]] = field(default_factory=dict)  # security group or NACL id -> codes
    caption: list[str] = field(default_factory=list)


def breaks(state: LabState, findings: Any, instance: Instance | None) -> Breaks:
    """Map each finding to the hop (or node) it breaks; what maps to nothing goes in the caption."""
    out = Breaks()

    def add(table: dict[str, list[str]], key: str, code: str) -> None:
        if code not in table.setdefault(key, []):
            table[key].append(code)

    vpc_id = instance.vpc_id if instance else None
    for finding in findings_of(findings):
        code, resource, severity = _field(finding, "code"), _field(finding, "resource"), _field(finding, "severity")
        services = tuple(_field(finding, "services") or ())  # the doctor's structure, never its wording
        drawn = True
        if code in NETWORK_CODES:
            named = services
            concerned = [e.service for e in interface_endpoints(state, vpc_id)
                         if code != "ENDPOINT_SG_BLOCKS_HTTPS" or resource in e.group_ids]
            for service in named or concerned or AGENT_SERVICES:
                add(out.agent, service, code)
            if code.startswith("VPC_DNS"):
                out.vpc.append(code)
            elif resource:
                add(out.groups, resource, code)
        elif code in ENDPOINT_CODES:
            endpoint = next((e for e in state.endpoints if e.endpoint_id == resource), None)
            if endpoint is None:
                drawn = False
            else:
                add(out.agent, endpoint.service, code)
                add(out.endpoint_nodes, endpoint.endpoint_id, code)
        elif code == "ENDPOINT_MISSING":
            for service in (services or (resource,)):
                if service:
                    add(out.missing, service, code)
        elif code == "EC2MESSAGES_ENDPOINT_NEEDED":
            if severity == "error":
                add(out.missing, "ec2messages", code)
            else:
                drawn = False
        elif code in CREDENTIAL_CODES:
            if severity == "info":  # DHMC covers the missing profile
                drawn = False
            else:
                out.credentials.append(code)
        elif code == "ROLE_MISSING_SSM_PERMISSIONS":
            for service in [s for s in services if s in AGENT_SERVICES] or ["ssm"]:
                add(out.service, service, code)
        elif code in INSTANCE_CODES:
            out.instance.append(code)
        else:
            drawn = False
        if not drawn and severity != "info":  # info findings are advice, not a broken hop
            out.caption.append(f"{code} ({severity})" if severity else str(code))
    return out


def interface_endpoints(state: LabState, vpc_id: str | None) -> list[VpcEndpoint]:
    return [e for e in state.endpoints
            if e.endpoint_type.lower() == "interface" and (vpc_id is None or e.vpc_id == vpc_id)
            and e.state not in ("deleting", "deleted")]
