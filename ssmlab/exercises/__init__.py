"""The notebooks' exercises: each prepares the lab (`ssmlab.steps.exercises`), hands the learner the ids they
need, and checks their work on the lab's real state (`judges`) — never their text. `check()` says what is right
and what is still missing; `hint(1)` and `hint(2)` help on demand. The solutions are in the notebooks, in a
collapsed cell that runs only with `solutions=True` (what `ssmlab run`, `make lab` and the tests do)."""

from __future__ import annotations

from typing import Any

from ssmlab import inventory
from ssmlab.exercises import judges
from ssmlab.exercises.exercise import Exercise, unsolved
from ssmlab.lab import Lab
from ssmlab.steps import breakage, exercises as prepare

__all__ = ["Exercise", "unsolved", "dns_hostnames", "endpoint_ingress", "ssmmessages_endpoint", "session_policy",
           "imds_v2", "endpoint_address", "transcript_endpoint", "database_egress", "doctor_prediction",
           "cheapest_with_transcripts"]


def _network(lab: Lab) -> Any:
    state = inventory.snapshot(lab)
    return state, (state.vpcs[0] if state.vpcs else None)


def dns_hostnames(lab: Lab) -> Exercise:
    """01: DNS hostnames turned off; the learner turns them on again."""
    vpc_id = prepare.dns_hostnames_off(lab)
    return Exercise("01-dns-hostnames", lab.name, "turn the VPC's DNS hostnames back on",
                    lambda _: judges.dns_attributes(inventory.snapshot(lab)), (
        "The EC2 API call that changes one VPC attribute at a time is ModifyVpcAttribute: "
        "lab.client('ec2').modify_vpc_attribute(...).",
        "modify_vpc_attribute(VpcId=exercise.vpc_id, EnableDnsHostnames={'Value': True}) — the value is a "
        "dictionary, as in the API's AttributeBooleanValue.",
    ), {"vpc_id": vpc_id}).show(f"enableDnsHostnames is now off on {vpc_id}, as on a VPC made without the console's wizard.")


def endpoint_ingress(lab: Lab) -> Exercise:
    """02: the endpoint group's inbound 443 removed (what the sourceless Terraform block leaves)."""
    group_id = breakage.remove_endpoint_ingress(lab)
    _, vpc = _network(lab)
    return Exercise("02-endpoint-ingress", lab.name, "write the endpoint group's ingress rule yourself",
                    lambda _: judges.endpoint_ingress(inventory.snapshot(lab)), (
        "A rule names a protocol, a port range and a source: IpPermissions=[{'IpProtocol': ..., 'FromPort': ..., "
        "'ToPort': ..., 'IpRanges': [{'CidrIp': ...}]}] in authorize_security_group_ingress.",
        "tcp, 443 to 443, from the VPC's CIDR (exercise.vpc_cidr) — or, instead of IpRanges, "
        "'UserIdGroupPairs': [{'GroupId': <the instance group>}].",
    ), {"group_id": group_id, "vpc_cidr": vpc.cidr if vpc else None}).show(
        f"{group_id} has no inbound rule now: what the Terraform sample leaves. Nothing reaches the endpoints.")


def ssmmessages_endpoint(lab: Lab) -> Exercise:
    """03: the ssmmessages endpoint deleted; the learner creates it with CreateVpcEndpoint."""
    from ssmlab.steps.endpoints import service_name

    prepare.endpoint_deleted(lab, "ssmmessages")
    state, vpc = _network(lab)
    group = next((g.group_id for g in state.security_groups if g.name == f"{lab.name}-endpoints"), None)
    given = {"vpc_id": vpc.vpc_id if vpc else None, "subnet_ids": [s.subnet_id for s in state.subnets],
             "security_group_id": group, "service_name": service_name(lab, "ssmmessages"),
             "tag_specifications": lab.tag_specifications("vpc-endpoint", "ssmmessages-endpoint")}

    def judge(_: Any) -> Any:
        from ssmlab.aws import wait_for_vpc_endpoints

        pending = [e.endpoint_id for e in inventory.snapshot(lab).endpoints_for("ssmmessages") if e.state.lower() == "pending"]
        wait_for_vpc_endpoints(lab, pending)  # on AWS about two minutes; on the emulator none
        return judges.session_endpoint(inventory.snapshot(lab), "ssmmessages", group)

    return Exercise("03-ssmmessages-endpoint", lab.name, "create the ssmmessages endpoint yourself", judge, (
        "lab.client('ec2').create_vpc_endpoint(...) with VpcEndpointType='Interface', and everything the exercise "
        "gives: the VPC, the service's full name, the subnets, the endpoint group, the tags.",
        "create_vpc_endpoint(VpcEndpointType='Interface', VpcId=exercise.vpc_id, ServiceName=exercise.service_name, "
        "SubnetIds=exercise.subnet_ids, SecurityGroupIds=[exercise.security_group_id], PrivateDnsEnabled=True, "
        "TagSpecifications=exercise.tag_specifications)",
    ), given).show("The ssmmessages endpoint is deleted: no session can start until it is back.")


def session_policy(lab: Lab) -> Exercise:
    """04: a person's role; the learner writes its least-privilege session policy (ABAC on the lab's tag)."""
    role = prepare.operator_role(lab)

    def judge(_: Any) -> Any:
        return judges.session_policy(inventory.role(lab, role["RoleName"]), lab.name, lab.region, lab.account_id)

    return Exercise("04-session-policy", lab.name, "let a person start sessions only on the lab's instances", judge, (
        "Two statements allow ssm:StartSession: one on instances (arn:aws:ec2:<region>:<account>:instance/*) with a "
        "Condition on the instance's tag, one on the session document (arn:aws:ssm:<region>:<account>:document/"
        "SSM-SessionManagerRunShell). Put it with iam.put_role_policy(RoleName=exercise.role_name, ...).",
        "The condition: {'StringEquals': {'ssm:resourceTag/ssmlab:lab': exercise.lab_name}}. Add "
        "ssm:TerminateSession and ssm:ResumeSession on arn:aws:ssm:*:*:session/${aws:userid}-* so people can end "
        "their own sessions; nothing else.",
    ), {"role_name": role["RoleName"], "lab_name": lab.name, "account": lab.account_id}).show(
        f"The role {role['RoleName']} is what a person on your team would assume; it has no policy yet.")


def imds_v2(lab: Lab, instance_id: str) -> Exercise:
    """05: IMDSv1 allowed again on the instance; the learner requires IMDSv2."""
    prepare.metadata_tokens_optional(lab, instance_id)
    return Exercise("05-imds-v2", lab.name, "require IMDSv2 on the instance",
                    lambda _: judges.imds_v2(inventory.snapshot(lab), instance_id), (
        "The instance's metadata options change without a restart: ModifyInstanceMetadataOptions.",
        "lab.client('ec2').modify_instance_metadata_options(InstanceId=exercise.instance_id, HttpTokens='required')",
    ), {"instance_id": instance_id}).show(f"{instance_id} accepts IMDSv1 now (HttpTokens=optional).")


def endpoint_address(lab: Lab, instance_id: str, service: str = "ssm") -> Exercise:
    """06: the private address of an endpoint, found from inside the instance."""
    from ssmlab.netpath import hostname

    name = hostname(service, lab.region)
    return Exercise("06-endpoint-address", lab.name, f"find the address {name} has inside the VPC",
                    lambda answer: judges.endpoint_address(inventory.snapshot(lab), service, answer), (
        f"Ask the instance, in a session: notebook.shell(lab, exercise.instance_id, [...]) with a command that "
        f"resolves {name}.",
        f"nslookup {name} prints the resolver it asked first, then the answer: the last 'Address:' line.",
    ), {"instance_id": instance_id, "name": name}).show(f"Which address does {instance_id} reach {name} at?")


def transcript_endpoint(lab: Lab) -> Exercise:
    """07: which of the lab's endpoints carries the session transcript to CloudWatch Logs."""
    return Exercise("07-transcript-endpoint", lab.name, "find the endpoint that carries the transcript",
                    lambda answer: judges.logs_endpoint(inventory.snapshot(lab), answer), (
        "The agent sends the transcript with CloudWatch Logs' API (PutLogEvents): which service's endpoint is that?",
        "render.endpoints_text(inventory.snapshot(lab)) lists each endpoint's id and service; the service is logs.",
    )).show("The session above was logged to CloudWatch Logs from a private subnet with no way out.")


def database_egress(lab: Lab, instance_id: str, database: Any) -> Exercise:
    """08: the learner writes the instance group's egress rule to the database's group."""
    state = inventory.snapshot(lab)
    group_id = state.instance(instance_id).group_ids[0]
    prepare.egress_revoked(lab, group_id, database.port)
    given = {"group_id": group_id, "database_group_id": database.group_id, "port": database.port}
    return Exercise("08-database-egress", lab.name, "open the way to the database, and no more",
                    lambda _: judges.database_egress(inventory.snapshot(lab), instance_id, database.private_ip,
                                                     database.port), (
        "An outbound rule on the instance's group (authorize_security_group_egress), for tcp on the database's port.",
        "IpPermissions=[{'IpProtocol': 'tcp', 'FromPort': exercise.port, 'ToPort': exercise.port, "
        "'UserIdGroupPairs': [{'GroupId': exercise.database_group_id}]}]: to the database's group, whatever its address.",
    ), given).show(f"{group_id} lets only HTTPS out: the forward to {database.private_ip}:{database.port} times out.")


def doctor_prediction(lab: Lab, instance_id: str, what: str) -> Exercise:
    """09: predict the doctor's error code for a breakage before it happens; checked against the doctor's run."""
    from ssmlab.checkup import checkup

    def judge(prediction: Any) -> Any:
        return judges.doctor_prediction(checkup(lab, instance_id)[0].codes("error"), prediction, what)

    return Exercise("09-doctor-prediction", lab.name, f"predict the doctor's code for {what}", judge, (
        "The doctor's codes name the hop that breaks: ENDPOINT_SG_BLOCKS_HTTPS, ENDPOINT_PRIVATE_DNS_DISABLED, "
        "ENDPOINT_MISSING, NOT_MANAGED, NO_INSTANCE_PROFILE... Which hop changes?",
        "The endpoint is still there, and so is its group; only how the service's name resolves changes.",
    ), {"instance_id": instance_id}).show(f"Before the next cell breaks the lab ({what}), write your prediction.")


def cheapest_with_transcripts(lab: Lab, book: Any, participants: int = 12, azs: int = 2, gb: float = 5.0) -> Exercise:
    """10: the cheapest way in that still records session transcripts, for a class in the lab's region."""
    from ssmlab import cost

    scenario = cost.Scenario(lab.region, azs=azs, participants=participants, gb=gb)
    priced = cost.estimate(book, scenario)  # as the notebook's comparison: a region without a price says so here
    return Exercise("10-cheapest-with-transcripts", lab.name, "pick the cheapest option that records transcripts",
                    lambda answer: judges.cheapest_with_transcripts(priced, answer), (
        "cost.estimate(book, exercise.scenario) prices every option; which ones let the agent reach CloudWatch Logs?",
        "An option records transcripts when its endpoints include logs, or through a NAT gateway to the public "
        "endpoint (key nat); compare those options' .total.",
    ), {"scenario": scenario}).show(
        f"A class of {participants} in {lab.region}, each in a VPC of their own over {azs} AZs, {gb:g} GB each a month; "
        "the security team wants a transcript of every session.")
