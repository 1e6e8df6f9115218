"""Each exercise's judgement of the lab as read back (a LabState, a role, the doctor's codes, the cost model),
never of the learner's text. Pure: the tests build right and wrong states by hand.

Every judgement answers in the learner's terms: what holds, what is still missing and why it matters."""

from __future__ import annotations

import ipaddress
from typing import Any

from ssmlab import hostpath, netpath, policy, sgrules, whatif
from ssmlab.exercises.verdict import Verdict, unanswered, verdict
from ssmlab.model import GONE_ENDPOINT_STATES, TAG_KEY, LabState, Role, SgRule, VpcEndpoint, has_lab_tag

SESSION_DOCUMENT = "SSM-SessionManagerRunShell"  # the document a shell session starts with (its preferences)


def _lab_vpc(state: LabState):
    return state.vpcs[0] if state.vpcs else None


def dns_attributes(state: LabState) -> Verdict:
    """01: both DNS attributes on (private DNS for the endpoints needs both)."""
    vpc = _lab_vpc(state)
    if vpc is None:
        return Verdict(missing=(f"lab {state.lab} has no VPC: run the notebook's build cell first",))
    return verdict([
        (vpc.dns_support, f"enableDnsSupport is on in {vpc.vpc_id}: the VPC's resolver answers",
         f"enableDnsSupport is off in {vpc.vpc_id}: nothing in the VPC can resolve a name"),
        (vpc.dns_hostnames, f"enableDnsHostnames is on in {vpc.vpc_id}: the endpoints' private DNS names can exist",
         f"enableDnsHostnames is still off in {vpc.vpc_id}: an endpoint's private DNS needs it, so "
         "ssm.<region>.amazonaws.com would resolve to public addresses the instance cannot reach"),
    ])


def _too_wide(rule: SgRule, port: int) -> list[str]:
    said = []
    if rule.cidr == "0.0.0.0/0":
        said.append(f"{sgrules.describe(rule, 'ingress')} admits any address: the VPC's CIDR or a security group is enough")
    if str(rule.protocol) == "-1" or (rule.port_from, rule.port_to) != (port, port):
        said.append(f"{sgrules.describe(rule, 'ingress')} opens more than tcp/{port}, the only port the agent uses")
    return said


def endpoint_ingress(state: LabState) -> Verdict:
    """02: the endpoint group admits tcp/443 from the private subnet again (the sample's rule, fixed)."""
    group = next((g for g in state.security_groups if g.name == f"{state.lab}-endpoints"), None)
    if group is None:
        return Verdict(missing=(f"lab {state.lab} has no endpoint security group: run the notebook's build cell first",))
    judged = whatif.endpoint_ingress(state)
    wide = [said for rule in group.ingress if sgrules.allows_port(rule, 443) for said in _too_wide(rule, 443)]
    sourceless = [r for r in group.ingress if not sgrules.has_peer(r)]
    return verdict([
        (judged.passed, f"{group.group_id} admits the agent: {judged.detail}",
         f"{group.group_id} does not admit the agent yet: {judged.detail}"
         + (" (a rule without a source admits nobody)" if sourceless else "")),
    ], notes=wide)


def _live(endpoint: VpcEndpoint) -> bool:
    return endpoint.state.lower() not in GONE_ENDPOINT_STATES


def session_endpoint(state: LabState, service: str, endpoint_group_id: str | None) -> Verdict:
    """03: an interface endpoint for `service` in the lab's VPC and subnet, with private DNS, the endpoint
    group, and the lab's tag (without it the lab, and its cleanup, cannot find it: it would bill on)."""
    vpc = _lab_vpc(state)
    found = [e for e in state.endpoints_for(service) if _live(e) and vpc and e.vpc_id == vpc.vpc_id]
    if not found:
        return Verdict(missing=(f"there is no {service} endpoint in {vpc.vpc_id if vpc else 'the lab'} yet: "
                                f"without it the agent cannot open its channels for sessions",))
    endpoint = sorted(found, key=lambda e: not has_lab_tag(e.tags, state.lab or ""))[0]
    subnets = {s.subnet_id for s in state.subnets if s.vpc_id == endpoint.vpc_id}
    return verdict([
        (endpoint.endpoint_type == "Interface", f"{endpoint.endpoint_id} is an interface endpoint",
         f"{endpoint.endpoint_id} is a {endpoint.endpoint_type} endpoint: {service} needs an interface endpoint"),
        (endpoint.state.lower() == "available", "it is available",
         f"it is {endpoint.state}: check again when it is available (about two minutes on AWS)"),
        (endpoint.private_dns, "private DNS is on: the service's usual name resolves to it inside the VPC",
         "private DNS is off: the agent would still resolve the service's public name (PrivateDnsEnabled=True)"),
        (bool(subnets & set(endpoint.subnet_ids)), "it has a network interface in the lab's subnet",
         f"it has no network interface in the lab's subnets ({', '.join(sorted(subnets))})"),
        (endpoint_group_id in endpoint.group_ids, f"it carries the endpoint group {endpoint_group_id} (443 in from the VPC)",
         f"it does not carry the endpoint group {endpoint_group_id}: nothing would admit the agent's HTTPS"),
        (has_lab_tag(endpoint.tags, state.lab or ""), f"it carries the lab's tag {TAG_KEY}={state.lab}",
         f"it lacks the lab's tag {TAG_KEY}={state.lab}: the lab and its cleanup will not find it, and it would "
         "bill on after the cleanup (TagSpecifications)"),
    ], notes=([f"{len(found)} {service} endpoints in the VPC: one is enough"] if len(found) > 1 else [])
        + ([f"no interface in {', '.join(sorted(subnets - set(endpoint.subnet_ids)))}: instances there cross to another "
            "AZ (and pay for it)"] if subnets & set(endpoint.subnet_ids) and subnets - set(endpoint.subnet_ids) else []))


def session_policy(role: Role | None, lab: str, region: str, account: str) -> Verdict:
    """04: the operator's policy allows sessions on the lab's instances only (ABAC on the lab's tag), with
    the session document, and nothing else that reaches into an instance."""
    if role is None:
        return Verdict(missing=(f"the role {lab}-operator is not there: run the exercise's first cell again",))
    policies = policy.role_policies(role)
    if not policies:
        return unanswered(f"the role {role.name} has no policy yet (put_role_policy)")
    instance = f"arn:aws:ec2:{region}:{account}:instance/i-0123456789abcdef0"
    document = f"arn:aws:ssm:{region}:{account}:document/{SESSION_DOCUMENT}"
    caller = {"aws:userid": f"AROAEXAMPLE:{role.name}", "aws:username": role.name}  # a session of the role
    session = f"arn:aws:ssm:{region}:{account}:session/{caller['aws:userid']}-0123456789abcdef0"  # one of theirs

    def allowed(action: str, resource: str, tags: dict[str, str] | None = None) -> bool:
        context = dict(caller)
        for key, value in (tags or {}).items():
            context[f"ssm:resourceTag/{key}"] = value
            context[f"aws:ResourceTag/{key}"] = value
        return policy.evaluate(policies, action, resource, context).allowed

    own, other = {TAG_KEY: lab}, {TAG_KEY: f"not-{lab}"}
    notes = [] if allowed("ssm:TerminateSession", session) else [
        "the user cannot end their own sessions: allow ssm:TerminateSession and ssm:ResumeSession on "
        "arn:aws:ssm:*:*:session/${aws:userid}-*"]
    return verdict([
        (allowed("ssm:StartSession", instance, own), f"ssm:StartSession is allowed on instances tagged {TAG_KEY}={lab}",
         f"ssm:StartSession is not allowed on the lab's instances (tagged {TAG_KEY}={lab})"),
        (allowed("ssm:StartSession", document), f"ssm:StartSession is allowed with the document {SESSION_DOCUMENT}",
         f"ssm:StartSession is not allowed on the document {SESSION_DOCUMENT}: a session names its document too, "
         f"and IAM checks both"),
        (not allowed("ssm:StartSession", instance, other), "instances of other labs are refused",
         f"instances tagged {TAG_KEY}=<another lab> are allowed too: condition the instance statement on "
         f"ssm:resourceTag/{TAG_KEY}"),
        (not allowed("ssm:StartSession", instance), "untagged instances are refused",
         "instances without the lab's tag are allowed too: the condition must require the tag"),
        (not allowed("ssm:SendCommand", instance, own), "ssm:SendCommand is refused: sessions only",
         "ssm:SendCommand is allowed: that runs any command as root, far more than starting sessions"),
    ], notes=notes)


def imds_v2(state: LabState, instance_id: str) -> Verdict:
    """05: the instance requires IMDSv2 session tokens."""
    instance = state.instance(instance_id)
    if instance is None:
        return Verdict(missing=(f"{instance_id} is not in the lab: run the notebook's build cell first",))
    return verdict([
        (instance.imds.http_endpoint == "enabled", "the metadata service is enabled: the agent gets its role there",
         "the metadata service is disabled: the agent could not read its role's credentials (HttpEndpoint=enabled)"),
        (instance.imds.http_tokens == "required", "IMDSv2 is required: every metadata read needs a session token",
         f"HttpTokens is still {instance.imds.http_tokens}: a plain GET (IMDSv1) still reads the role's credentials"),
    ])


def _address(answer: Any) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(str(answer).strip())
    except ValueError:
        return None


def endpoint_address(state: LabState, service: str, answer: Any) -> Verdict:
    """06: the private address the instance gets for the service's name: one of its endpoint's interfaces."""
    if answer in (None, ""):
        return unanswered("set `answer` to the address the instance resolves the name to")
    address = _address(answer)
    if address is None:
        return Verdict(missing=(f"{answer!r} is not an IPv4 address: expected one like 10.0.1.23",))
    owners = {eni.private_ip: e for e in state.endpoints if _live(e)
              for eni in state.network_interfaces if eni.eni_id in e.network_interface_ids}
    endpoint = owners.get(str(address))
    vpc = _lab_vpc(state)
    if endpoint is not None and endpoint.service == service:
        return Verdict(right=(f"{address} is the network interface of {endpoint.endpoint_id} ({service}), in your "
                              "subnet: private DNS answers the service's public name with it",))
    if endpoint is not None:
        said = f"{address} is the {endpoint.service} endpoint's address; the question is about {service}'s name"
    elif vpc and str(address) == hostpath.vpc_dns_address(state, vpc.vpc_id):
        said = f"{address} is the VPC's DNS resolver (the CIDR's base + 2), which answered; the answer is below it"
    elif not address.is_private:
        said = f"{address} is a public address: with private DNS on, the name resolves inside the VPC to a private one"
    else:
        said = f"{address} belongs to no endpoint of the lab"
    return Verdict(missing=(said,))


def logs_endpoint(state: LabState, answer: Any) -> Verdict:
    """07: the endpoint that carries the transcript to CloudWatch Logs is `logs`'."""
    if answer in (None, ""):
        return unanswered("set `answer` to the id of an endpoint (vpce-...)")
    endpoint = next((e for e in state.endpoints if e.endpoint_id == str(answer).strip()), None)
    if endpoint is None:
        ids = ", ".join(f"{e.endpoint_id} ({e.service})" for e in state.endpoints if _live(e))
        return Verdict(missing=(f"{answer!r} is not an endpoint of the lab; it has {ids or 'none'}",))
    if endpoint.service == "logs":
        return Verdict(right=(f"{endpoint.endpoint_id} is the logs endpoint: the agent's CloudWatch Logs client sends "
                              f"the transcript there, to {netpath.hostname('logs', state.region)}",))
    carries = {"ssmmessages": "the session itself (the data channel), not its transcript",
               "ssm": "the agent's registration and health reports",
               "ec2messages": "old agents' Run Command messages",
               "s3": "the S3 copy of the transcript (a gateway endpoint, by route), not CloudWatch Logs",
               "kms": "the data keys that encrypt the session"}
    return Verdict(missing=(f"{endpoint.endpoint_id} is the {endpoint.service} endpoint: it carries "
                            f"{carries.get(endpoint.service, 'another service')}",))


def database_egress(state: LabState, instance_id: str, host: str, port: int) -> Verdict:
    """08: the instance may open tcp/port to the database host (hop by hop, as the agent's dial goes)."""
    judged = hostpath.path(state, instance_id, host, port)
    instance = state.instance(instance_id)
    wide = [f"{sgrules.describe(rule, 'egress')} lets the instance reach far more than the database"
            for group_id in (instance.group_ids if instance else ())
            for rule in (state.security_group(group_id).egress if state.security_group(group_id) else ())
            if sgrules.allows_port(rule, port) and (rule.cidr == "0.0.0.0/0" or str(rule.protocol) == "-1")]
    failed = judged.first_failure
    return verdict([
        (judged.reachable, f"the instance reaches {host}:{port}: every hop passes",
         f"{failed.name}: {failed.detail}" if failed else f"{host}:{port} is not reachable: {judged.refusal}"),
    ], notes=wide)


def doctor_prediction(codes: list[str], prediction: Any, what: str) -> Verdict:
    """09: the doctor's error code for a breakage, predicted before the doctor ran."""
    if prediction in (None, ""):
        return unanswered(f"set `prediction` to the doctor's code for {what}, before running the break")
    said = str(prediction).strip().upper()
    if said in codes:
        return Verdict(right=(f"the doctor reports {said} for {what}",))
    return Verdict(missing=(f"the doctor did not report {said} for {what}; it reported "
                            f"{', '.join(codes) or 'no error'}: read its message above for why",))


def records_transcripts(option: Any) -> bool:
    """Whether the agent can send transcripts under this option: a logs endpoint, or a NAT gateway to the public one."""
    return option.key == "nat" or "logs" in option.endpoints


def cheapest_with_transcripts(estimate: Any, answer: Any) -> Verdict:
    """10: among the options that can record session transcripts, the one that costs least for the scenario."""
    if answer in (None, ""):
        return unanswered(f"set `answer` to an option's key, one of {', '.join(o.key for o in estimate.options)}")
    keys = {o.key: o for o in estimate.options}
    chosen = keys.get(str(answer).strip())
    if chosen is None:
        return Verdict(missing=(f"{answer!r} is not an option: expected one of {', '.join(keys)}",))
    eligible = [o for o in estimate.options if records_transcripts(o)]
    best = min(eligible, key=lambda o: o.total)
    if not records_transcripts(chosen):
        why = ("EC2 Instance Connect Endpoint carries SSH, and Session Manager records nothing of it"
               if chosen.key == "eice" else "these endpoints leave out logs, so the agent cannot send transcripts")
        return Verdict(missing=(f"{chosen.key} cannot record transcripts: {why}",))
    if chosen.key == best.key:
        return Verdict(right=(f"{best.key} costs ${best.total:,.2f} {estimate.scenario.period}, the least of "
                              + ", ".join(f"{o.key} ${o.total:,.2f}" for o in eligible),))
    return Verdict(missing=(f"{chosen.key} costs ${chosen.total:,.2f} {estimate.scenario.period}; another option that "
                            f"records transcripts costs less",))
