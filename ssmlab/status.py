"""What of a lab exists, step by step: a pure function of a LabState (for `ssmlab status`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ssmlab import kmskey, preferences
from ssmlab.model import GONE_ENDPOINT_STATES, LAUNCHED_STATES, LabState, has_lab_tag

COMPLETE, PARTIAL, MISSING, DUPLICATE = "complete", "partial", "missing", "duplicate"
OPTIONAL = ("session-logging", "session-encryption")  # steps a lab works without (`ssmlab build`'s options)


@dataclass(frozen=True)
class StepStatus:
    step: str
    status: str  # complete | partial | missing
    detail: str

    def to_json(self) -> dict:
        return asdict(self)


def _mine(tags, lab: str | None) -> bool:
    return lab is None or has_lab_tag(tags, lab)


@dataclass(frozen=True)
class Duplicate:
    """One part of the lab that exists more than once (two builds at once on two machines, or copied tags)."""

    step: str
    what: str  # "VPC", "subnet in ap-northeast-1a", "ssm interface endpoint", "instance demo-instance", ...
    ids: tuple[str, ...]

    def describe(self) -> str:
        return f"{len(self.ids)} x {self.what} ({', '.join(self.ids)})"


def duplicates(state: LabState) -> list[Duplicate]:
    """What of the lab exists twice or more: each copy bills (endpoints by the hour) and confuses every later step."""
    lab = state.lab
    live = [e for e in state.endpoints if _mine(e.tags, lab) and e.state.lower() not in GONE_ENDPOINT_STATES]
    groups: list[tuple[str, str, list[tuple[str, str]]]] = [
        ("network", "VPC", [("", v.vpc_id) for v in state.vpcs if _mine(v.tags, lab)]),
        ("network", "subnet", [(f" in {s.az}", s.subnet_id) for s in state.subnets if _mine(s.tags, lab)]),
        ("network", "route table", [(f" {_name(t.tags)}", t.route_table_id) for t in state.route_tables
                                    if _mine(t.tags, lab) and not t.main]),
        ("security-groups", "security group", [(f" {g.name}", g.group_id) for g in state.security_groups
                                               if _mine(g.tags, lab) and g.name != "default"]),
        ("endpoints", "endpoint", [(f" {e.service} ({e.endpoint_type.lower()})", e.endpoint_id) for e in live]),
        ("instance", "instance", [(f" {_name(i.tags)}", i.instance_id) for i in state.instances
                                  if _mine(i.tags, lab) and i.state in LAUNCHED_STATES]),  # one on its way out is none
    ]
    found = []
    for step, what, items in groups:
        by_key: dict[str, list[str]] = {}
        for key, resource_id in items:
            by_key.setdefault(key, []).append(resource_id)
        found += [Duplicate(step, f"{what}{key}", tuple(sorted(ids))) for key, ids in by_key.items() if len(ids) > 1]
    return found


def _name(tags) -> str:
    return dict(tags).get("Name", "")


def lab_status(state: LabState) -> list[StepStatus]:
    """One line per build step, judged from the resources that carry the lab's tag; a step that exists twice
    is marked `duplicate`, with what to do about it."""
    lab = state.lab
    vpcs = [v for v in state.vpcs if _mine(v.tags, lab)]
    subnets = [s for s in state.subnets if _mine(s.tags, lab)]
    tables = [t for t in state.route_tables if _mine(t.tags, lab) and not t.main]
    groups = {g.name: g for g in state.security_groups if _mine(g.tags, lab)}
    endpoints = [e for e in state.endpoints if _mine(e.tags, lab) and e.state not in ("deleted", "deleting")]
    instances = [i for i in state.instances if _mine(i.tags, lab)]
    steps = [
        _network(vpcs, subnets, tables),
        _security_groups(groups, lab),
        _endpoints(endpoints),
        _iam(state),
        _instance(instances),
        _session_logging(endpoints, lab, state.session_preferences, kmskey.owners(state.kms_keys, lab or "")),
    ]
    steps += [_session_encryption(endpoints, lab, state)] if _encryption_present(endpoints, lab, state) else []
    twice = duplicates(state)
    return [_marked(s, [d for d in twice if d.step == s.step], lab, state.region) for s in steps]


def _marked(step: StepStatus, twice: list[Duplicate], lab: str | None, region: str) -> StepStatus:
    if not twice:
        return step
    remedy = f"`ssmlab cleanup --lab {lab} --region {region}` removes all of them; then build again" if lab else \
        "remove the extra copies"
    listed = "; ".join(d.describe() for d in twice)
    return StepStatus(step.step, DUPLICATE, f"exists twice, and bills twice: {listed}; {remedy}; {step.detail}")


def _network(vpcs, subnets, tables) -> StepStatus:
    if not vpcs:
        return StepStatus("network", MISSING, "no VPC")
    vpc = vpcs[0]
    dns = f"DNS support {'on' if vpc.dns_support else 'OFF'}, hostnames {'on' if vpc.dns_hostnames else 'OFF'}"
    parts = [f"{vpc.vpc_id} {vpc.cidr} ({dns})"]
    parts += [f"subnet {s.subnet_id} {s.cidr} {s.az}{' (public IPs on launch!)' if s.map_public_ip else ''}" for s in subnets]
    parts.append(f"route table {tables[0].route_table_id}" if tables else "no route table")
    detail = "; ".join(parts)
    complete = vpc.dns_support and vpc.dns_hostnames and subnets and tables
    return StepStatus("network", COMPLETE if complete else PARTIAL, detail)


def _security_groups(groups, lab) -> StepStatus:
    names = [f"{lab}-endpoints", f"{lab}-instance"] if lab else sorted(groups)
    found = [f"{n} {groups[n].group_id}" for n in names if n in groups]
    if not found:
        return StepStatus("security-groups", MISSING, "no security group")
    status = COMPLETE if len(found) == len(names) else PARTIAL
    return StepStatus("security-groups", status, "; ".join(found))


def _endpoints(endpoints) -> StepStatus:
    interface = {e.service: e for e in endpoints if e.endpoint_type == "Interface"}
    required = ("ssm", "ssmmessages")
    parts = [
        f"{s} {e.endpoint_id} {e.state}, private DNS {'on' if e.private_dns else 'OFF'}"
        for s, e in sorted(interface.items())
        if s in ("ssm", "ssmmessages", "ec2messages")
    ]
    if not parts:
        return StepStatus("endpoints", MISSING, "no interface endpoint")
    ok = all(s in interface and interface[s].private_dns and interface[s].state == "available" for s in required)
    if "ec2messages" not in interface:
        parts.append("no ec2messages (only agents older than 3.3.40.0 need it: build --with-ec2messages)")
    return StepStatus("endpoints", COMPLETE if ok else PARTIAL, "; ".join(parts))


def _iam(state: LabState) -> StepStatus:
    if not state.roles and not state.instance_profiles:
        return StepStatus("iam", MISSING, "no role, no instance profile")
    parts = []
    for role in state.roles:
        managed = ", ".join(p.name for p in role.managed_policies) or "no managed policy"
        parts.append(f"role {role.name} ({managed})")
    for profile in state.instance_profiles:
        parts.append(f"profile {profile.name} -> {', '.join(profile.role_names) or 'no role'}")
    complete = bool(state.roles) and any(p.role_names for p in state.instance_profiles)
    return StepStatus("iam", COMPLETE if complete else PARTIAL, "; ".join(parts))


def _instance(instances) -> StepStatus:
    if not instances:
        return StepStatus("instance", MISSING, "no instance")
    i = instances[0]
    imds = "IMDSv2 required" if i.imds.http_tokens == "required" else f"IMDS tokens {i.imds.http_tokens}"
    if i.imds.http_endpoint != "enabled":
        imds = "IMDS disabled"
    detail = f"{i.instance_id} {i.state} {i.private_ip or ''} ({imds}, public IP {i.public_ip or 'none'})"
    return StepStatus("instance", COMPLETE if i.state == "running" else PARTIAL, detail)


def _session_logging(endpoints, lab: str | None, inputs: dict | None, keys: dict | None = None) -> StepStatus:
    """Complete when the lab's endpoints exist and the region's preferences send transcripts to this lab."""
    logs = [e for e in endpoints if e.service == "logs"]
    s3 = [e for e in endpoints if e.service == "s3" and e.endpoint_type == "Gateway"]
    parts = [f"logs endpoint {e.endpoint_id}" for e in logs] + [f"S3 gateway endpoint {e.endpoint_id}" for e in s3]
    if not parts:
        return StepStatus("session-logging", MISSING, "not set up (optional)")
    if lab is None:  # a VPC read on its own: the region's preferences are not a lab's business
        return StepStatus("session-logging", COMPLETE, "; ".join(parts))
    whose = preferences.set_by({"inputs": inputs}, keys) if inputs is not None else None
    if whose == lab:
        return StepStatus("session-logging", COMPLETE, "; ".join(parts + [f"{preferences.DOCUMENT}: this lab's"]))
    held = ("absent: sessions are not logged" if inputs is None else
            f"lab {whose}'s: sessions are logged there" if whose else "not the lab's: sessions are logged elsewhere")
    return StepStatus("session-logging", PARTIAL, "; ".join(parts + [
        f"{preferences.DOCUMENT} {held} (`ssmlab build --lab {lab} --session-logging` sets this lab's)"]))


def _encryption_present(endpoints, lab: str | None, state: LabState) -> bool:
    """The optional step shows once any part of it exists: the lab's key, or a kms endpoint."""
    return any(e.service == "kms" for e in endpoints) or any(_mine(k.tags, lab) for k in state.kms_keys if lab)


def _session_encryption(endpoints, lab: str | None, state: LabState) -> StepStatus:
    """Complete when the lab's key is enabled, the kms endpoint is there and the region's preferences name the key."""
    key = next((k for k in state.kms_keys if lab and _mine(k.tags, lab)), None)
    kms = [e for e in endpoints if e.service == "kms" and e.endpoint_type == "Interface"]
    parts = [f"KMS key {key.key_id} ({', '.join(key.aliases) or 'no alias'}) {key.state}" if key else "no KMS key"]
    parts += [f"kms endpoint {e.endpoint_id} {e.state}" for e in kms] or ["no kms endpoint"]
    named = key is not None and key.named_by((state.session_preferences or {}).get("kmsKeyId"))
    parts.append(f"{preferences.DOCUMENT}: " + ("kmsKeyId is this key" if named else
                 "names no key of this lab's: sessions are not encrypted with it"))
    complete = key is not None and key.state == kmskey.ENABLED and bool(kms) and named
    return StepStatus("session-encryption", COMPLETE if complete else PARTIAL, "; ".join(parts))
