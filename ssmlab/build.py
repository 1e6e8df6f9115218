"""The build: run the steps in order, each idempotent, reporting one line per step.

The notebooks call the same steps one at a time; `ssmlab build` and `make lab` call them
all. Everything is validated before the first resource is created.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ssmlab import addressing, status
from ssmlab.aws import describe_all, explained
from ssmlab.errors import BadInput
from ssmlab.lab import Lab
from ssmlab.locking import lab_lock
from ssmlab.steps import endpoints, iam, instance, network, security_groups, session_encryption, session_logging

STEPS = ("network", "security-groups", "endpoints", "iam", "instance", "session-logging", "session-encryption")
OPTIONAL_STEPS = status.OPTIONAL


@dataclass(frozen=True)
class BuildOptions:
    cidr: str = addressing.DEFAULT_VPC_CIDR
    azs: int = 1
    subnet_cidrs: tuple[str, ...] = ()
    instance_type: str = instance.DEFAULT_INSTANCE_TYPE
    with_ec2messages: bool = False  # the third endpoint, for agents older than 3.3.40.0
    session_logging: tuple[str, ...] = ()  # () = skip the optional step; else "cloudwatch" and/or "s3"
    session_encryption: bool = False  # the optional step: a KMS key for session data, the kms endpoint


@dataclass(frozen=True)
class StepReport:
    step: str
    summary: str
    created: tuple[str, ...]
    seconds: float


@dataclass
class BuildResult:
    lab: Lab
    reports: list[StepReport] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def created(self) -> tuple[str, ...]:
        return tuple(c for r in self.reports for c in r.created)


def steps_to_run(until: str | None, options: BuildOptions) -> tuple[str, ...]:
    """The steps up to and including `until`; an optional step only when asked for (its option, or `until`)."""
    if until is not None and until not in STEPS:
        raise BadInput(f"invalid step {until!r}: expected one of {', '.join(STEPS)}")
    last = STEPS.index(until) if until else len(STEPS) - 1
    asked = {"session-logging": bool(options.session_logging), "session-encryption": options.session_encryption is True}
    return tuple(s for s in STEPS[: last + 1] if s not in OPTIONAL_STEPS or asked[s] or s == until)


def interface_endpoints(steps: tuple[str, ...], options: BuildOptions) -> tuple[str, ...]:
    """The interface endpoints these steps create (each billed per AZ-hour): what target aws prices up front."""
    services: tuple[str, ...] = ()
    if "endpoints" in steps:
        services += tuple(endpoints.services_for(options.with_ec2messages))
    if "session-logging" in steps and "cloudwatch" in (options.session_logging or session_logging.DESTINATIONS):
        services += ("logs",)
    if "session-encryption" in steps:
        services += ("kms",)
    return services


def validate(lab: Lab, options: BuildOptions, steps: tuple[str, ...] = STEPS) -> list[str]:
    """Check every input before anything exists; returns the AZs the subnets will use."""
    addressing.subnet_cidrs(options.cidr, options.azs if options.azs > 0 else 1, list(options.subnet_cidrs) or None)
    if not isinstance(options.session_encryption, bool):
        raise BadInput(f"invalid session_encryption {options.session_encryption!r}: expected True or False")
    for destination in options.session_logging:
        if destination not in session_logging.DESTINATIONS:
            raise BadInput(
                f"invalid session-logging destination {destination!r}: expected 'cloudwatch', 's3' or both"
            )
    zones = network.choose_azs(lab, options.azs)
    if "instance" in steps:
        check_instance_type(lab, options.instance_type, zones[0])
    return zones


ARCHITECTURE = "x86_64"  # of the lab's AMI: instance.AL2023_PARAMETER names Amazon Linux 2023 for x86_64
SUGGESTED_TYPES = (instance.DEFAULT_INSTANCE_TYPE, "t3a.micro", "t2.micro")
_ACCEPTED: set[tuple] = set()


def check_instance_type(lab: Lab, instance_type: str, zone: str) -> None:
    """The instance type must be offered in the zone of the instance's subnet (the lab's first AZ) and
    run the AMI's architecture: else RunInstances fails only after the endpoints started billing.

    Two reads (DescribeInstanceTypeOfferings, DescribeInstanceTypes), made once per process for the
    same type and zone: each notebook ensures the earlier steps again, in a kernel that stays warm.
    """
    key = (lab.target, lab.endpoint_url, lab.region, zone, instance_type)
    if key in _ACCEPTED:
        return
    ec2 = lab.client("ec2")
    with explained(f"looking up the instance types offered in {zone}"):
        offered = {o["InstanceType"] for o in describe_all(
            ec2, "describe_instance_type_offerings", "InstanceTypeOfferings", LocationType="availability-zone",
            Filters=[{"Name": "location", "Values": [zone]},
                     {"Name": "instance-type", "Values": [instance_type, *SUGGESTED_TYPES]}])}
    example = next((t for t in SUGGESTED_TYPES if t in offered and t != instance_type), None)
    example = f", e.g. {example}" if example else ""
    if instance_type not in offered:
        raise BadInput(
            f"invalid instance type {instance_type!r}: expected an instance type offered in {zone}{example} "
            f"(see aws ec2 describe-instance-type-offerings --location-type availability-zone "
            f"--filters Name=location,Values={zone} --region {lab.region})"
        )
    with explained(f"describing the instance type {instance_type}"):
        found = ec2.describe_instance_types(InstanceTypes=[instance_type])["InstanceTypes"]
    architectures = found[0].get("ProcessorInfo", {}).get("SupportedArchitectures", []) if found else []
    if ARCHITECTURE not in architectures:
        raise BadInput(
            f"invalid instance type {instance_type!r}: it runs {' or '.join(architectures) or 'another architecture'} "
            f"and the lab's AMI (Amazon Linux 2023) is {ARCHITECTURE}; expected an {ARCHITECTURE} instance type "
            f"offered in {zone}{example}"
        )
    _ACCEPTED.add(key)


def build(
    lab: Lab,
    options: BuildOptions = BuildOptions(),
    until: str | None = None,
    report: Callable[[int, int, StepReport], None] | None = None,
) -> BuildResult:
    """Run the lab's steps in order (see `steps_to_run`), skipping nothing that is already there."""
    wanted = steps_to_run(until, options)
    zones = validate(lab, options, wanted)
    result = BuildResult(lab)
    r = result.results
    actions: dict[str, Callable[[], tuple[Any, str]]] = {
        "network": lambda: _summarise(
            network.ensure(lab, options.cidr, zones, list(options.subnet_cidrs) or None),
            lambda n: f"{n.vpc_id} {n.cidr}, {len(n.subnet_ids)} private subnet(s) in {', '.join(n.azs)}, {n.route_table_id}",
        ),
        "security-groups": lambda: _summarise(
            security_groups.ensure(lab, r["network"]),
            lambda g: f"endpoints {g.endpoint_sg_id} (in: 443 from VPC), instance {g.instance_sg_id} (out: 443 to VPC)",
        ),
        "endpoints": lambda: _summarise(
            endpoints.ensure(lab, r["network"], r["security-groups"], endpoints.services_for(options.with_ec2messages)),
            lambda e: ", ".join(f"{x.service} {x.endpoint_id}" for x in e.endpoints) + " (private DNS on)",
        ),
        "iam": lambda: _summarise(iam.ensure(lab), lambda i: f"role {i.role_name}, profile {i.profile_name}"),
        "instance": lambda: _summarise(
            instance.ensure(lab, r["network"], r["security-groups"], r["iam"], options.instance_type),
            lambda i: f"{i.instance_id} {i.instance_type} {i.private_ip} ({i.image_id}), {i.state}",
        ),
        "session-logging": lambda: _summarise(
            session_logging.ensure(
                lab, r["network"], r["security-groups"], r["iam"], options.session_logging or session_logging.DESTINATIONS
            ),
            lambda s: ", ".join(x for x in (s.log_group and f"log group {s.log_group}", s.bucket and f"bucket {s.bucket}") if x),
        ),
        "session-encryption": lambda: _summarise(
            session_encryption.ensure(lab, r["network"], r["security-groups"], r["iam"]),
            lambda e: f"KMS key {e.key_id} ({e.alias}), kms {e.kms_endpoint_id}, kmsKeyId in {e.document_name}",
        ),
    }
    with lab_lock(lab, "build"):  # a second build of this lab waits, then finds this one's resources
        for number, step in enumerate(wanted, start=1):
            started = time.monotonic()
            value, summary = actions[step]()
            r[step] = value
            entry = StepReport(step, summary, tuple(value.created), time.monotonic() - started)
            result.reports.append(entry)
            if report:
                report(number, len(wanted), entry)
    return result


def _summarise(value: Any, describe: Callable[[Any], str]) -> tuple[Any, str]:
    return value, describe(value)
