"""The simulated SSM Agent, over HTTP against the emulator process: it registers exactly when the
lab lets it, its log names the cause when it cannot, and the Session Manager APIs follow it.

Simulated time is fast-forwarded through /ssmlab/clock, so the half-hour credential sleep
costs no wall time.
"""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError

from ssmlab import managed
from ssmlab.build import BuildOptions, build
from ssmlab.emulator import control
from ssmlab.emulator.agent import AGENT_START_DELAY, CREDENTIAL_REFRESHER_SLEEP, PING_INTERVAL
from ssmlab.errors import LabError
from ssmlab.lab import Lab
from ssmlab.steps.instance import AL2023_PARAMETER

pytestmark = pytest.mark.emulator
REGION = "ap-northeast-1"


def lab_until_iam(name: str, **options) -> tuple[Lab, dict]:
    lab = Lab(name, REGION, "emulator")
    return lab, build(lab, BuildOptions(**options), until="iam").results


def launch(lab: Lab, results: dict, *, profile: bool = True, imds: str = "enabled", subnet_id: str | None = None,
           groups: list[str] | None = None, tags: dict | None = None, public_ip: bool = False) -> str:
    """Launch an AL2023 instance the way a learner might have, with one thing possibly different."""
    ec2 = lab.client("ec2")
    image = lab.client("ssm").get_parameter(Name=AL2023_PARAMETER)["Parameter"]["Value"]
    request = dict(
        ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1,
        MetadataOptions={"HttpEndpoint": imds, "HttpTokens": "required"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": lab.tags("instance") + [
            {"Key": k, "Value": v} for k, v in (tags or {}).items()]}],
    )
    interface = {
        "DeviceIndex": 0,
        "SubnetId": subnet_id or results["network"].subnet_ids[0],
        "Groups": groups or [results["security-groups"].instance_sg_id],
        "AssociatePublicIpAddress": public_ip,
    }
    request["NetworkInterfaces"] = [interface]
    if profile:
        request["IamInstanceProfile"] = {"Arn": results["iam"].profile_arn}
    return ec2.run_instances(**request)["Instances"][0]["InstanceId"]


def online(lab: Lab, instance_id: str) -> bool:
    info = managed.node_information(lab, instance_id)
    return bool(info and info["PingStatus"] == "Online")


def failures(lab: Lab, instance_id: str) -> list[dict]:
    return [e for e in control.agents(lab, instance_id)["log"] if e["outcome"] == "fail"]


# -- registration ------------------------------------------------------------------------


def test_a_complete_lab_registers_online_when_the_agent_starts(emulator):
    lab, results = lab_until_iam("ag-complete")
    instance_id = launch(lab, results)
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    assert online(lab, instance_id)
    agent = control.agents(lab, instance_id)["agents"][0]
    assert (agent["ping_status"], agent["control_channel"], agent["phase"]) == ("Online", "ssmmessages", "online")
    steps = [(e["step"], e["outcome"]) for e in control.agents(lab, instance_id)["log"]]
    assert steps[:3] == [("boot", "info"), ("register", "ok"), ("control-channel", "ok")]
    info = managed.node_information(lab, instance_id)
    assert info["PlatformName"] == "Amazon Linux" and info["PlatformVersion"] == "2023"
    assert info["ResourceType"] == "EC2Instance" and info["IPAddress"]


def test_wait_until_managed_returns_the_node_and_explains_a_timeout(emulator):
    lab, results = lab_until_iam("ag-wait")
    instance_id = launch(lab, results)
    node = managed.wait_until_managed(lab, instance_id, timeout=30)  # 20 simulated s = 2 wall s
    assert node.ping_status == "Online" and node.platform == "Amazon Linux 2023"

    unmanaged = launch(lab, results, profile=False)
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    with pytest.raises(LabError, match="no instance profile|credential refresher"):
        managed.wait_until_managed(lab, unmanaged, timeout=1.5, poll=0.5)


def _endpoint_sg_closed(lab, results):
    group = results["security-groups"].endpoint_sg_id
    lab.client("ec2").revoke_security_group_ingress(
        GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}]
    )


def _instance_sg_closed(lab, results):
    group = results["security-groups"].instance_sg_id
    lab.client("ec2").revoke_security_group_egress(
        GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}]
    )


BREAKAGES = {
    "endpoint SG without 443": (_endpoint_sg_closed, {}, "ENDPOINT_SG_BLOCKS_HTTPS"),
    "no instance profile": (None, {"profile": False}, "NO_INSTANCE_PROFILE"),
    "IMDS disabled": (None, {"imds": "disabled"}, "IMDS_DISABLED"),
}


# Over HTTP, one breakage of the network, one of IAM and one of the launch options; the agent's verdict
# for every breakage is registration.assess's, proven on hand-built states (test_registration.py).
@pytest.mark.parametrize("case", list(BREAKAGES))
def test_each_breakage_keeps_the_node_from_registering_and_the_log_names_it(emulator, case):
    breakage, launch_options, code = BREAKAGES[case]
    lab, results = lab_until_iam(f"ag-break-{list(BREAKAGES).index(case)}")
    if breakage:
        breakage(lab, results)
    instance_id = launch(lab, results, **launch_options)
    control.advance_clock(lab, AGENT_START_DELAY + 120)
    assert managed.node_information(lab, instance_id) is None
    codes = [e["code"] for e in failures(lab, instance_id)]
    assert codes and set(codes) == {code}, codes


def test_a_nacl_denying_the_return_traffic_keeps_the_node_out(emulator):
    lab, results = lab_until_iam("ag-nacl")
    ec2 = lab.client("ec2")
    vpc_id = results["network"].vpc_id
    # The instance goes in a second subnet (traffic inside one subnet never crosses its NACL).
    subnet = ec2.create_subnet(
        VpcId=vpc_id, CidrBlock="10.0.1.0/24", AvailabilityZone=results["network"].azs[0],
        TagSpecifications=lab.tag_specifications("subnet", "other"),
    )["Subnet"]["SubnetId"]
    ec2.associate_route_table(RouteTableId=results["network"].route_table_id, SubnetId=subnet)
    acl = ec2.create_network_acl(VpcId=vpc_id, TagSpecifications=lab.tag_specifications("network-acl", "strict"))["NetworkAcl"]
    acl_id = acl["NetworkAclId"]
    ec2.create_network_acl_entry(NetworkAclId=acl_id, RuleNumber=100, Protocol="6", RuleAction="allow", Egress=True,
                                 CidrBlock="10.0.0.0/16", PortRange={"From": 443, "To": 443})
    ec2.create_network_acl_entry(NetworkAclId=acl_id, RuleNumber=100, Protocol="6", RuleAction="allow", Egress=False,
                                 CidrBlock="10.0.0.0/16", PortRange={"From": 443, "To": 443})  # no ephemeral return
    current = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])["NetworkAcls"][0]
    association = next(a["NetworkAclAssociationId"] for a in current["Associations"] if a["SubnetId"] == subnet)
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl_id)

    instance_id = launch(lab, results, subnet_id=subnet)
    control.advance_clock(lab, AGENT_START_DELAY + 60)
    assert managed.node_information(lab, instance_id) is None
    failure = failures(lab, instance_id)[0]
    assert failure["code"] == "NACL_BLOCKS_HTTPS"
    assert acl_id in failure["reason"] or "return" in failure["reason"]


def test_an_agent_that_starts_before_its_path_works_hibernates_and_a_reboot_brings_it_in_at_once(emulator):
    lab, results = lab_until_iam("ag-repair")
    _instance_sg_closed(lab, results)
    instance_id = launch(lab, results)
    control.advance_clock(lab, AGENT_START_DELAY + 3600)
    # the start ping, then hibernation pings 5, 15, 25, 35 and 55 minutes later (hibernation.go)
    assert len(failures(lab, instance_id)) == 6
    build(lab)  # the security-groups step puts the rule back
    control.advance_clock(lab, 5 * 60)
    assert not online(lab, instance_id)  # hibernating: its next ping is 75 minutes after the start
    report = control.agents(lab, instance_id)["agents"][0]
    assert report["phase"] == "hibernating"
    hibernate_log = report["files"]["/var/log/amazon/ssm/hibernate.log"]
    assert hibernate_log[-1].endswith("INFO Backing off health check to every 1200 seconds for 3600 seconds.") or any(
        line.endswith("INFO Backing off health check to every 1200 seconds for 3600 seconds.") for line in hibernate_log)
    lab.client("ec2").reboot_instances(InstanceIds=[instance_id])
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    assert online(lab, instance_id)


def test_an_instance_without_an_agent_never_appears(emulator):
    lab, results = lab_until_iam("ag-noagent")
    ec2 = lab.client("ec2")
    image = next(i for i in ec2.describe_images(Owners=["amazon"])["Images"] if i.get("Name", "").startswith("amzn-ami"))
    instance_id = ec2.run_instances(
        ImageId=image["ImageId"], MinCount=1, MaxCount=1, SubnetId=results["network"].subnet_ids[0],
        IamInstanceProfile={"Arn": results["iam"].profile_arn},
    )["Instances"][0]["InstanceId"]
    control.advance_clock(lab, AGENT_START_DELAY + 60)
    assert managed.node_information(lab, instance_id) is None
    assert control.agents(lab, instance_id)["agents"] == []


# -- the "wait a while, or reboot" sticking point ------------------------------------------


def _attach_profile_later(lab, results, name_suffix):
    instance_id = launch(lab, results, profile=False)
    control.advance_clock(lab, AGENT_START_DELAY + 10)
    log = control.agents(lab, instance_id)["log"]
    assert [e for e in log if e["step"] == "credentials" and e["outcome"] == "sleep"]
    lab.client("ec2").associate_iam_instance_profile(
        InstanceId=instance_id, IamInstanceProfile={"Arn": results["iam"].profile_arn}
    )
    return instance_id


def test_a_profile_attached_after_boot_registers_only_after_the_refresher_sleeps(emulator):
    lab, results = lab_until_iam("ag-late")
    instance_id = _attach_profile_later(lab, results, "late")
    control.advance_clock(lab, CREDENTIAL_REFRESHER_SLEEP - 5 * 60)
    assert not online(lab, instance_id)
    control.advance_clock(lab, 6 * 60)
    assert online(lab, instance_id)


def test_a_profile_attached_after_boot_registers_at_once_after_a_reboot(emulator):
    lab, results = lab_until_iam("ag-reboot")
    instance_id = _attach_profile_later(lab, results, "reboot")
    lab.client("ec2").reboot_instances(InstanceIds=[instance_id])
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    assert online(lab, instance_id)
    assert any(e["step"] == "reboot" for e in control.agents(lab, instance_id)["log"])


# -- other ways out ---------------------------------------------------------------------------


def test_a_public_subnet_with_an_internet_gateway_registers_without_endpoints(emulator):
    lab, results = lab_until_iam("ag-public")  # only for its role and profile
    ec2 = lab.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="172.31.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="172.31.1.0/24")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    default_sg = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    instance_id = launch(lab, results, subnet_id=subnet, groups=[default_sg], public_ip=True)
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    assert online(lab, instance_id)
    register = next(e for e in control.agents(lab, instance_id)["log"] if e["step"] == "register")
    assert register["outcome"] == "ok"


# -- Run Command and sessions -------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_nodes(emulator):
    lab, results = lab_until_iam("ag-nodes")
    first, second = launch(lab, results), launch(lab, results)
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    assert online(lab, first) and online(lab, second)
    return lab, results, first, second


def test_send_command_reaches_only_the_instance_named(two_nodes):
    lab, _, first, second = two_nodes
    result = managed.run_command(lab, first, ["hostname", "whoami"])  # answered by the simulated instance
    assert result.status == "Success"
    assert result.output.startswith("ip-10-") and result.output.endswith(".compute.internal\nroot\n"), result.output
    failed = managed.run_command(lab, first, ["ls /tmp"])  # not simulated: sh's 127 fails the invocation
    assert failed.status == "Failed" and "command not found" in failed.output
    ssm = lab.client("ssm")
    invocations = ssm.list_command_invocations(CommandId=result.command_id)["CommandInvocations"]
    assert [i["InstanceId"] for i in invocations] == [first]
    assert ssm.list_command_invocations(InstanceId=second)["CommandInvocations"] == []
    with pytest.raises(ClientError) as error:
        ssm.get_command_invocation(CommandId=result.command_id, InstanceId=second)
    assert error.value.response["Error"]["Code"] == "InvocationDoesNotExist"


def test_send_command_to_an_unmanaged_instance_is_invalid_instance_id(two_nodes):
    lab, results, _, _ = two_nodes
    outsider = launch(lab, results, profile=False)
    with pytest.raises(ClientError) as error:
        lab.client("ssm").send_command(InstanceIds=[outsider], DocumentName="AWS-RunShellScript",
                                       Parameters={"commands": ["true"]})
    assert error.value.response["Error"]["Code"] == "InvalidInstanceId"
    with pytest.raises(LabError, match="not an Online managed node"):
        managed.run_command(lab, outsider, ["true"])


def test_sessions_start_resume_and_terminate(two_nodes):
    lab, _, first, _ = two_nodes
    ssm = lab.client("ssm")
    assert ssm.get_connection_status(Target=first)["Status"] == "connected"
    session = managed.start_session(lab, first, reason="checking the lab")
    # The emulator's own data channel server (emulator/datachannel.py), with AWS's path.
    assert re.fullmatch(rf"ws://127\.0\.0\.1:\d+/v1/data-channel/{session.session_id}\?role=publish_subscribe",
                        session.stream_url) and session.token
    active = ssm.describe_sessions(State="Active")["Sessions"]
    assert [(s["SessionId"], s["Target"], s["Status"]) for s in active if s["SessionId"] == session.session_id] == [
        (session.session_id, first, "Connected")
    ]
    resumed = ssm.resume_session(SessionId=session.session_id)
    assert resumed["TokenValue"] and resumed["SessionId"] == session.session_id
    managed.end_session(lab, session.session_id)
    history = ssm.describe_sessions(State="History", Filters=[{"key": "SessionId", "value": session.session_id}])
    assert history["Sessions"][0]["Status"] == "Terminated"


def test_online_is_not_session_ready_when_ssmmessages_is_gone(emulator):
    lab, results = lab_until_iam("ag-nomessages")
    instance_id = launch(lab, results)
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    assert online(lab, instance_id)
    ssmmessages = results["endpoints"].get("ssmmessages").endpoint_id
    lab.client("ec2").delete_vpc_endpoints(VpcEndpointIds=[ssmmessages])

    ssm = lab.client("ssm")
    with pytest.raises(ClientError) as error:
        ssm.start_session(Target=instance_id)
    assert error.value.response["Error"]["Code"] == "TargetNotConnected"
    assert error.value.response["Error"]["Message"] == f"{instance_id} is not connected."
    assert online(lab, instance_id)  # still a managed node in DescribeInstanceInformation
    assert ssm.get_connection_status(Target=instance_id)["Status"] == "notconnected"
    with pytest.raises(LabError, match="holds no channel on ssmmessages"):
        managed.start_session(lab, instance_id)
    # Deleting the endpoint cut the agent's control channel, and the lab has no ec2messages to fall back
    # on (two endpoints, FACTS.md), so Run Command is not delivered either.
    assert managed.run_command(lab, instance_id, ["true"], timeout=2).status == "Pending"


def test_session_records_go_where_the_preferences_say_and_fail_when_unreachable(emulator):
    lab = Lab("ag-logging", "eu-west-1", "emulator")  # preferences are region-wide: keep them away from other labs
    results = build(lab, BuildOptions(session_logging=("cloudwatch", "s3"))).results
    instance_id = results["instance"].instance_id
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    session = managed.start_session(lab, instance_id)
    managed.end_session(lab, session.session_id)
    events = lab.client("logs").get_log_events(
        logGroupName=results["session-logging"].log_group, logStreamName=session.session_id
    )["events"]
    # No data channel was opened, so no shell ran: one clearly marked emulator line, written when it ended.
    assert len(events) == 1 and events[0]["message"].startswith("ssmlab emulator: simulated session")
    body = lab.client("s3").get_object(
        Bucket=results["session-logging"].bucket, Key=f"sessions/{session.session_id}.log"
    )["Body"].read().decode()
    assert "started through the API" in body and "no shell ran" in body

    lab.client("ec2").delete_vpc_endpoints(VpcEndpointIds=[results["session-logging"].logs_endpoint_id])
    with pytest.raises(LabError, match="cannot reach logs"):
        managed.start_session(lab, instance_id)


def test_the_agents_route_returns_states_and_the_log_as_json(emulator, two_nodes):
    lab, _, first, _ = two_nodes
    report = control.agents(lab, first)
    assert set(report) == {"clock", "agents", "log", "work"}
    assert report["clock"]["scale"] > 0
    assert report["work"]["attempts"] >= report["work"]["judgements"] >= report["work"]["read_backs"] >= 1
    assert {e["instance_id"] for e in report["log"]} == {first}
    assert json.dumps(report)  # plain JSON all the way down


def test_a_failed_ping_is_connection_lost_and_a_good_one_brings_it_back(emulator):
    lab, results = lab_until_iam("ag-ping")
    instance_id = launch(lab, results)
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    assert online(lab, instance_id)
    _instance_sg_closed(lab, results)
    control.advance_clock(lab, 5 * 60 + 5)
    assert managed.node_information(lab, instance_id)["PingStatus"] == "ConnectionLost"
    build(lab, until="security-groups")
    control.advance_clock(lab, 5 * 60 + 5)
    assert managed.node_information(lab, instance_id)["PingStatus"] == "Online"


def test_an_open_control_channel_outlives_the_endpoint_rule_until_a_reboot(emulator):
    """Security groups track connections (EC2 User Guide): the agent's open channel survives; new ones fail."""
    lab, results = lab_until_iam("ag-tracked")
    instance_id = launch(lab, results)
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    _endpoint_sg_closed(lab, results)
    assert online(lab, instance_id)  # nothing changes until the agent opens a new connection
    control.advance_clock(lab, 5 * 60 + 5)
    assert managed.node_information(lab, instance_id)["PingStatus"] == "ConnectionLost"  # the report is a new connection
    assert control.agents(lab, instance_id)["agents"][0]["control_channel"] == "ssmmessages"  # the old one stays
    with pytest.raises(ClientError, match="TargetNotConnected"):
        lab.client("ssm").start_session(Target=instance_id)  # a session needs a new connection to ssmmessages
    lab.client("ec2").reboot_instances(InstanceIds=[instance_id])
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    agent = control.agents(lab, instance_id)["agents"][0]
    assert agent["control_channel"] is None and agent["phase"] == "hibernating"  # it reconnects, and cannot


def test_an_old_agent_needs_ec2messages_for_its_control_channel(emulator):
    lab, results = lab_until_iam("ag-old")
    instance_id = launch(lab, results, tags={"ssmlab:agent-version": "3.2.582.0"})
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    assert online(lab, instance_id)  # registration goes through ssm
    agent = control.agents(lab, instance_id)["agents"][0]
    assert agent["control_channel"] is None and agent["phase"] == "no-channel"
    channel = [e for e in failures(lab, instance_id) if e["step"] == "control-channel"]
    assert channel and channel[0]["service"] == "ec2messages"


def test_stopping_ends_the_agent_and_starting_brings_it_back(two_nodes):
    lab, _, _, second = two_nodes
    ec2 = lab.client("ec2")
    ec2.stop_instances(InstanceIds=[second])
    control.advance_clock(lab, 5)
    assert managed.node_information(lab, second)["PingStatus"] == "ConnectionLost"
    assert control.agents(lab, second)["agents"][0]["phase"] == "stopped"
    ec2.start_instances(InstanceIds=[second])
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    assert online(lab, second)


def test_describe_instance_information_filters_and_pages(two_nodes):
    lab, results, first, second = two_nodes
    more = [launch(lab, results) for _ in range(4)]
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    ssm = lab.client("ssm")
    pages = list(ssm.get_paginator("describe_instance_information").paginate(PaginationConfig={"PageSize": 5}))
    seen = [i["InstanceId"] for page in pages for i in page["InstanceInformationList"]]
    assert len(pages) >= 2 and all(len(p["InstanceInformationList"]) <= 5 for p in pages)
    assert {first, second, *more} <= set(seen) and len(seen) == len(set(seen))
    online_only = ssm.describe_instance_information(Filters=[{"Key": "PingStatus", "Values": ["Online"]}])
    assert all(i["PingStatus"] == "Online" for i in online_only["InstanceInformationList"])
    by_id = ssm.describe_instance_information(InstanceInformationFilterList=[{"key": "InstanceIds", "valueSet": [first]}])
    assert [i["InstanceId"] for i in by_id["InstanceInformationList"]] == [first]


def test_the_log_names_where_ssm_resolved(two_nodes):
    lab, results, first, _ = two_nodes
    register = next(e for e in control.agents(lab, first)["log"] if e["step"] == "register")
    assert register["service"] == "ssm"
    assert register["address"] == results["endpoints"].get("ssm").endpoint_id or register["address"].startswith("10.0.")


def test_sessions_and_commands_leave_what_the_agents_read_valid(two_nodes):
    lab, _, first, _ = two_nodes
    control.advance_clock(lab, PING_INTERVAL + 5)  # every agent has read its lab as it is now
    before = control.agents(lab, first)["work"]
    ssm = lab.client("ssm")
    ssm.terminate_session(SessionId=ssm.start_session(Target=first)["SessionId"])
    ssm.send_command(InstanceIds=[first], DocumentName="AWS-RunShellScript", Parameters={"commands": ["id"]})
    control.advance_clock(lab, PING_INTERVAL + 5)
    after = control.agents(lab, first)["work"]
    # the session and the command were judged on the state already read, and so were the pings since
    assert after["attempts"] > before["attempts"] and after["read_backs"] == before["read_backs"]


def test_a_change_in_one_lab_makes_only_that_labs_agents_read_it_back(emulator, two_nodes):
    lab, _, first, _ = two_nodes
    other, other_results = lab_until_iam("ag-other")
    launch(other, other_results)  # a node of another lab, pinging all along
    control.advance_clock(lab, PING_INTERVAL + 5)  # every agent has read its lab as it is now
    before = control.agents(lab, first)["work"]
    control.advance_clock(lab, 3 * PING_INTERVAL)
    settled = control.agents(lab, first)["work"]
    assert settled["attempts"] > before["attempts"] and settled["read_backs"] == before["read_backs"]

    lab.client("ec2").create_tags(Resources=[first], Tags=[{"Key": "touched", "Value": "yes"}])
    control.advance_clock(lab, PING_INTERVAL + 5)
    report = control.agents(lab)
    of_no_lab = [a for a in report["agents"] if a["lab"] is None and a["phase"] != "stopped"]
    assert report["work"]["read_backs"] - settled["read_backs"] == 1 + len(of_no_lab)  # the lab's VPC, once
