"""Why is this instance not a managed node, or why can't a session start? Pure rules over a LabState.

The doctor sees what the API shows: it walks the agent's path to each service hop by hop
(`netpath`), checks the credentials and permissions (`registration`, `policy`), and reads
Systems Manager's own view (DescribeInstanceInformation, GetConnectionStatus) when the
caller passes it. Each finding has a stable code, the resource to fix, and the exact fix.
Its peers (FACTS.md): `ssm-cli get-diagnostics` runs on the instance, so it is useless when
you can't get in; the AWSSupport-TroubleshootManagedInstance / -SessionManager runbooks
check the same things from the API, without saying which hop fails.

Finding codes (stable; also listed in the README):
  INSTANCE_NOT_FOUND            error    no such instance in this region
  INSTANCE_NOT_RUNNING          error    stopped, stopping or terminated
  AGENT_NOT_PREINSTALLED        warning  the AMI is not one of those that ship the SSM Agent
  AGENT_PREINSTALL_UNCONFIRMED  warning  AWS confirms neither way whether the AMI ships the agent (AL2023 minimal)
  IMDS_DISABLED                 error    the agent reads its credentials from IMDS
  NO_INSTANCE_PROFILE           error    (info when Default Host Management Configuration covers it)
  ROLE_TRUST_MISSING_EC2        error    the role does not trust ec2.amazonaws.com
  ROLE_MISSING_SSM_PERMISSIONS  error    the message lists the missing actions
  VPC_DNS_SUPPORT_DISABLED      error    no Amazon-provided DNS in the VPC
  VPC_DNS_HOSTNAMES_DISABLED    error    private DNS of the endpoints does not apply
  ENDPOINT_MISSING              error    resource = the service; not raised when a public path works
  ENDPOINT_NOT_AVAILABLE        error    the endpoint exists but is not available
  ENDPOINT_PRIVATE_DNS_DISABLED error    the service name resolves to public addresses
  ENDPOINT_SG_BLOCKS_HTTPS      error    the endpoint security group has no inbound 443 from the instance
  INSTANCE_SG_BLOCKS_HTTPS      error    the instance security group has no outbound 443 to the endpoint
  NACL_BLOCKS_HTTPS             error    a network ACL blocks 443 out or the reply on the ephemeral ports
  EC2MESSAGES_ENDPOINT_NEEDED   error    the agent is known to be older than 3.3.40.0 and ec2messages is unreachable
  NOT_MANAGED                   error    Systems Manager does not list the instance as a managed node
  CONNECTION_LOST               error    the node stopped pinging
  REBOOT_RECOMMENDED            warning  everything checks out, yet the node is not managed
  AGENT_STARTING                warning  the instance is still booting (status checks initializing): wait
  DUPLICATE_RESOURCES           warning  part of the lab exists twice (and bills twice)
  SESSION_LOGGING_UNREACHABLE   error    preferences name a log group or bucket the agent cannot write to
  KMS_KEY_NOT_USABLE            error    preferences name a KMS key that is disabled, pending deletion or gone
  KMS_ENDPOINT_UNREACHABLE      error    preferences name a KMS key and the agent has no path to kms
  ROLE_MISSING_KMS_PERMISSIONS  error    preferences name a KMS key the role may not kms:Decrypt (`encryption`)
  S3_GATEWAY_MISSING            info     AL2023 package repositories and agent updates need S3
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ssmlab import amis, encryption, fixes, netpath, node_status, policy, registration, transcript
from ssmlab.findings import ERROR, INFO, WARNING, Finding, Fix, advice, aws
from ssmlab.model import Instance, LabState, NodeFacts
from ssmlab.netpath import PathResult

CODES = {
    "INSTANCE_NOT_FOUND": ERROR, "INSTANCE_NOT_RUNNING": ERROR, "AGENT_NOT_PREINSTALLED": WARNING,
    "IMDS_DISABLED": ERROR, "NO_INSTANCE_PROFILE": ERROR, "ROLE_TRUST_MISSING_EC2": ERROR,
    "ROLE_MISSING_SSM_PERMISSIONS": ERROR, "VPC_DNS_SUPPORT_DISABLED": ERROR, "VPC_DNS_HOSTNAMES_DISABLED": ERROR,
    "ENDPOINT_MISSING": ERROR, "ENDPOINT_NOT_AVAILABLE": ERROR, "ENDPOINT_PRIVATE_DNS_DISABLED": ERROR,
    "ENDPOINT_SG_BLOCKS_HTTPS": ERROR, "INSTANCE_SG_BLOCKS_HTTPS": ERROR, "NACL_BLOCKS_HTTPS": ERROR,
    "EC2MESSAGES_ENDPOINT_NEEDED": ERROR, "NOT_MANAGED": ERROR, "CONNECTION_LOST": ERROR,
    "REBOOT_RECOMMENDED": WARNING, "SESSION_LOGGING_UNREACHABLE": ERROR, "S3_GATEWAY_MISSING": INFO,
    "AGENT_STARTING": WARNING, "DUPLICATE_RESOURCES": WARNING, "AGENT_PREINSTALL_UNCONFIRMED": WARNING,
    **{code: ERROR for code in encryption.CODES},
}
CORE_POLICY_ARN = fixes.CORE_POLICY_ARN
DHMC_MIN_AGENT = (3, 2, 582, 0)  # FACTS.md: Default Host Management Configuration needs agent >= 3.2.582.0
BLIND_SPOTS = (
    "service control policies and permission boundaries (only the role's own policies are evaluated)",
    "the agent's own state inside the instance (whether it runs, its proxy settings, its logs)",
    "the public addresses of AWS services behind an internet or NAT gateway",
)


@dataclass(frozen=True)
class Diagnosis:
    instance_id: str | None
    region: str
    managed: bool | None
    findings: tuple[Finding, ...]
    paths: dict[str, PathResult] = field(default_factory=dict, hash=False)
    iam_method: str = "the role's policy documents, evaluated by ssmlab.policy"
    blind_spots: tuple[str, ...] = BLIND_SPOTS
    # The snapshot it was judged from: a picture drawn from it shows what the doctor saw, without reading again.
    state: LabState | None = field(default=None, compare=False, repr=False)
    node: NodeFacts | None = field(default=None, compare=False, repr=False)  # Systems Manager's view, when asked

    @property
    def ok(self) -> bool:
        return not any(f.severity == ERROR for f in self.findings)

    def codes(self, severity: str | None = None) -> list[str]:
        return [f.code for f in self.findings if severity in (None, f.severity)]

    def to_json(self) -> dict:
        """The shape in DESIGN.md (CLI contract)."""
        return {
            "instance_id": self.instance_id,
            "region": self.region,
            "ok": self.ok,
            "managed": self.managed,
            "findings": [f.to_json() for f in self.findings],
        }


def diagnose(
    state: LabState,
    instance_id: str,
    *,
    node: NodeFacts | None = None,
    preferences: dict | None = None,
    dhmc_role: str | None = None,
    simulated_missing: tuple[str, ...] | None = None,
    duplicates: tuple = (),
) -> Diagnosis:
    """Every finding for one instance. `node` is Systems Manager's view (None: not asked);
    `simulated_missing` is what iam:SimulatePrincipalPolicy denied (None: not simulated); `duplicates` are the
    parts of the instance's lab that exist twice (`status.duplicates`)."""
    managed = None if node is None else node.ping_status == "Online"
    instance = state.instance(instance_id)
    if instance is None:
        return Diagnosis(instance_id, state.region, managed, (_finding(
            "INSTANCE_NOT_FOUND", instance_id,
            f"{instance_id} is not an instance in {state.region} (or you may not describe it)",
            advice(f"check the id and the region: aws ec2 describe-instances --instance-ids {instance_id} "
                   f"--region {state.region}"),
        ),), state=state, node=node)
    if instance.state != "running":
        return Diagnosis(instance_id, state.region, managed, (_finding(
            "INSTANCE_NOT_RUNNING", instance_id, f"{instance_id} is {instance.state}: no agent runs on it",
            Fix((aws("ec2", "start-instances", "--instance-ids", instance_id),)) if instance.state == "stopped" else
            advice(f"wait until it is stopped (EC2 refuses to start a stopping instance), then aws ec2 start-instances "
                   f"--instance-ids {instance_id}") if instance.state == "stopping" else
            advice("launch a new instance: a terminated one cannot be started"),
        ),), state=state, node=node)

    version = node.agent_version if node else None
    assessment = registration.assess(state, instance_id, agent_version=version)
    findings: list[Finding] = []
    findings += _agent(state, instance, node)
    findings += _credentials(state, instance, assessment, dhmc_role, version)
    findings += _permissions(state, instance, assessment, simulated_missing, version)
    paths = {"ssm": assessment.ssm_path, **assessment.channel_paths}
    if not registration.agent_needs_ec2messages(version) and netpath.interface_endpoint(
            state, instance.vpc_id, "ec2messages") is None:
        del paths["ec2messages"]  # a current agent does not use it, and the lab has none (FACTS.md)
    paths.update({"kms": netpath.path(state, instance_id, "kms")} if encryption.key_ref(preferences) else {})
    findings += _network(state, instance, paths, version)
    findings += _logging(state, instance, preferences)
    findings += [_finding(p.code, p.resource, p.message, p.fix, services=p.services)
                 for p in encryption.check(state, instance_id, preferences)]
    findings += _s3(state, instance)
    blocked = any(f.severity == ERROR for f in findings)
    findings += [_finding(p.code, p.resource, p.message, p.fix) for p in node_status.check(state, instance, node, blocked)]
    findings += [_finding("DUPLICATE_RESOURCES", d.ids[0], f"lab {state.lab} has {d.describe()}: that part of the lab "
                          "exists twice, and every copy bills", advice(f"ssmlab cleanup --lab {state.lab} --region "
                          f"{state.region} (it removes every copy), then build again")) for d in duplicates]
    iam_method = (
        "iam:SimulatePrincipalPolicy" if simulated_missing is not None
        else "the role's policy documents, evaluated by ssmlab.policy (iam:SimulatePrincipalPolicy was not available)"
    )
    return Diagnosis(instance_id, state.region, managed, tuple(_dedupe(findings)), paths, iam_method, state=state,
                     node=node)


# -- the rules -------------------------------------------------------------------------------


def _finding(code: str, resource: str | None, message: str, fix: Fix, severity: str | None = None,
             services: tuple[str, ...] = ()) -> Finding:
    return Finding(code, severity or CODES[code], resource, message, fix, tuple(services))


def _agent(state: LabState, instance: Instance, node: NodeFacts | None) -> list[Finding]:
    image = state.image(instance.image_id)
    registered = node is not None and node.ping_status is not None  # an agent evidently runs, whatever the AMI
    found = amis.advice(instance.image_id, image.name) if image is not None and not registered else None
    return [_finding(code, resource, message, advice(text)) for code, resource, message, text in ([found] if found else [])]


def _credentials(state: LabState, instance: Instance, assessment, dhmc_role: str | None, version: str | None) -> list[Finding]:
    check = assessment.credentials
    if check.passed or check.code is None:
        return []
    iid = instance.instance_id
    if check.code == registration.IMDS_DISABLED:
        return [_finding("IMDS_DISABLED", iid, check.detail, Fix((aws(
            "ec2", "modify-instance-metadata-options", "--instance-id", iid, "--http-endpoint", "enabled",
            "--http-tokens", "required"),), terraform='metadata_options { http_endpoint = "enabled" }'))]
    if check.code == registration.NO_INSTANCE_PROFILE:
        if dhmc_role and _dhmc_applies(instance, version):
            return [_finding("NO_INSTANCE_PROFILE", iid,
                             f"{iid} has no instance profile; Default Host Management Configuration gives the agent "
                             f"the role {dhmc_role} instead", advice("nothing to do: DHMC covers this instance"), INFO)]
        profile = fixes.suitable_profile(state)
        fix = Fix((aws("ec2", "associate-iam-instance-profile", "--instance-id", iid, "--iam-instance-profile",
                       f"Name={profile}"), fixes.reboot(iid)),
                  "{0}, then reboot the instance so the agent picks it up at once: {1}",
                  terraform="iam_instance_profile on aws_instance") if profile else advice(
            f"create an instance profile whose role has {CORE_POLICY_ARN} (ssmlab build --until iam makes one), "
            f"attach it with aws ec2 associate-iam-instance-profile --instance-id {iid}, then reboot the instance",
            terraform="iam_instance_profile on aws_instance")
        return [_finding("NO_INSTANCE_PROFILE", check.resource, check.detail, fix)]
    if check.code == registration.ROLE_TRUST_MISSING_EC2:
        role = (check.resource or "").rsplit("/", 1)[-1]
        trust = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},'
                 '"Action":"sts:AssumeRole"}]}')
        return [_finding("ROLE_TRUST_MISSING_EC2", check.resource, check.detail, Fix((aws(
            "iam", "update-assume-role-policy", "--role-name", role, "--policy-document", trust),)))]
    return []


def _dhmc_applies(instance: Instance, version: str | None) -> bool:
    """DHMC needs IMDSv2 and agent >= 3.2.582.0 (FACTS.md); an unknown version is taken as recent."""
    if instance.imds.http_tokens != "required":
        return False
    if version is None:
        return True
    parts = tuple(int(p) for p in version.split(".")) + (0, 0, 0, 0)
    return parts[:4] >= DHMC_MIN_AGENT


def _permissions(state: LabState, instance: Instance, assessment, simulated: tuple[str, ...] | None,
                 version: str | None) -> list[Finding]:
    role = state.instance_role(instance)
    if role is None:
        return []
    needed = policy.AGENT_REGISTRATION_ACTIONS + policy.CONTROL_CHANNEL_ACTIONS + policy.DATA_CHANNEL_ACTIONS
    if registration.agent_needs_ec2messages(version):
        needed += policy.EC2MESSAGES_ACTIONS
    if simulated is not None:
        missing = tuple(a for a in needed if a in simulated)
    else:
        missing = tuple(a for a in needed if a not in _allowed(state, instance, role, a))
    if not missing:
        return []
    services = tuple(dict.fromkeys(a.split(":", 1)[0] for a in missing))
    return [_finding(
        "ROLE_MISSING_SSM_PERMISSIONS", role.arn, f"the role {role.name} does not allow {', '.join(missing)}",
        Fix((aws("iam", "attach-role-policy", "--role-name", role.name, "--policy-arn", CORE_POLICY_ARN),)),
        services=services,
    )]


def _allowed(state: LabState, instance: Instance, role, action: str) -> tuple[str, ...]:
    """(action,) when the role's documents allow it on the resource the agent uses."""
    resource = "*"
    if action in policy.AGENT_REGISTRATION_ACTIONS:
        parts = role.arn.split(":")
        if len(parts) > 4 and parts[4]:
            resource = f"arn:{parts[1]}:ec2:{state.region}:{parts[4]}:instance/{instance.instance_id}"
    return (action,) if policy.evaluate(policy.role_policies(role), action, resource).allowed else ()


def _network(state: LabState, instance: Instance, paths: dict[str, PathResult | None], version: str | None) -> list[Finding]:
    findings: list[Finding] = []
    broken: dict[tuple[str, str | None], tuple[list[str], object]] = {}  # one finding per cause, naming each service
    old_agent = registration.agent_needs_ec2messages(version)
    for service in ("ssm", "ssmmessages", "ec2messages"):
        path = paths.get(service)
        if path is None or path.reachable:
            continue
        if service == "ec2messages":
            # Agents from 3.3.40.0 on need only ssm and ssmmessages, and AWS retires the ec2messages
            # endpoint on 2026-09-30 (FACTS.md): not reaching it matters only to an older agent.
            if old_agent:
                findings.append(_finding(
                    "EC2MESSAGES_ENDPOINT_NEEDED", "ec2messages",
                    f"agent {version} is older than 3.3.40.0 and polls ec2messages for its commands, which is "
                    f"unreachable: {path.first_failure.detail}",
                    Fix((fixes.create_endpoint(state, instance, "ec2messages"), aws(
                        "ssm", "send-command", "--document-name", "AWS-UpdateSSMAgent", "--instance-ids",
                        instance.instance_id)),
                        "update the agent (AWS-UpdateSSMAgent, or launch from a current AMI); the update itself is a "
                        "command this agent fetches from ec2messages, which AWS retires on 2026-09-30, so while it is "
                        "still offered first {0} (ssmlab build --with-ec2messages), then {1}, and remove the endpoint "
                        "once the agent is 3.3.40.0 or later", terraform=fixes.ENDPOINT_TERRAFORM),
                    services=("ec2messages",),
                ))
            continue
        for hop in path.hops:
            if not hop.passed and hop.code:
                key = (hop.code, service if hop.code == "ENDPOINT_MISSING" else hop.resource)
                broken.setdefault(key, ([], hop))[0].append(service)
    for (code, resource), (services, hop) in broken.items():
        findings.append(_hop_finding(state, instance, services, hop, resource))
    return findings


def _hop_finding(state: LabState, instance: Instance, services: list[str], hop, resource: str | None) -> Finding:
    message = f"{', '.join(services)}: {hop.detail}"
    return _finding(hop.code, resource, message, fixes.for_hop(state, instance, hop, services[0]), services=services)


def _logging(state: LabState, instance: Instance, preferences: dict | None) -> list[Finding]:
    findings = []
    for problem in transcript.problems(state, instance.instance_id, preferences):
        if not problem.reachable:
            hop = problem.hop
            fix = fixes.for_hop(state, instance, hop, problem.service) if hop else advice(f"give the agent a path to {problem.service}")
            message = (f"session logging to {problem.label} ({problem.target}) is configured, but the agent cannot "
                       f"reach {problem.service}: {hop.detail if hop else 'no path'} — sessions will fail to start")
        else:
            fix = Fix((fixes.put_role_policy(problem.role, f"{state.lab or 'ssmlab'}-session-logging",
                                             list(problem.missing), list(problem.resources)),))
            message = (f"session logging to {problem.label} ({problem.target}) is configured, but the role "
                       f"{problem.role} may not {', '.join(problem.missing)}")
        findings.append(_finding("SESSION_LOGGING_UNREACHABLE", problem.target, message, fix, services=(problem.service,)))
    return findings


def _s3(state: LabState, instance: Instance) -> list[Finding]:
    path = netpath.path(state, instance.instance_id, "s3")
    if path.reachable:
        return []
    hop = path.first_failure
    return [_finding(
        "S3_GATEWAY_MISSING", instance.vpc_id,
        "the instance cannot reach S3: Amazon Linux 2023 package repositories and agent updates are served from S3",
        fixes.for_hop(state, instance, hop, "s3") if hop else advice("add an S3 gateway endpoint"), services=("s3",),
    )]


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per (code, resource), in the order found."""
    seen: dict[tuple[str, str | None], Finding] = {}
    for f in findings:
        seen.setdefault((f.code, f.resource), f)
    return list(seen.values())
