"""doctor.diagnose: one code per cause, no finding for valid alternatives. Hand-built states."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ssmlab.doctor import CODES, diagnose
from ssmlab.model import Image, InstanceProfile, NodeFacts, Policy
from builders import (
    CORE, CORP_PL, PROFILE_ARN, endpoint, endpoints, groups, https, instance, instance_in_b,
    instance_nacl, private_lab, public_lab, s3_gateway_lab, sg, with_role, RETURN_ONLY,
)

ONLINE = NodeFacts("i-1", "Online", "3.3.1957.0")
NOT_REGISTERED = NodeFacts("i-1", None)


def codes(state, severity="error", **kwargs):
    return sorted(diagnose(state, "i-1", **kwargs).codes(severity))


def test_a_complete_lab_has_no_error_and_only_the_s3_hint():
    diagnosis = diagnose(private_lab(), "i-1", node=ONLINE)
    assert diagnosis.ok and diagnosis.managed is True
    assert diagnosis.codes() == ["S3_GATEWAY_MISSING"]
    assert diagnosis.findings[0].severity == "info"


def test_the_s3_hint_goes_once_s3_is_reachable_through_the_gateway():
    assert diagnose(s3_gateway_lab(), "i-1", node=ONLINE).codes() == []


SCENARIOS = {
    # name: (state, expected error codes)
    "instance missing": (replace(private_lab(), instances=()), ["INSTANCE_NOT_FOUND"]),
    "instance stopped": (replace(private_lab(), instances=(instance(state="stopped"),)), ["INSTANCE_NOT_RUNNING"]),
    "IMDS disabled": (replace(private_lab(), instances=(instance(imds=replace(instance().imds, http_endpoint="disabled")),)),
                      ["IMDS_DISABLED"]),
    "no profile": (replace(private_lab(), instances=(instance(profile_arn=None),)), ["NO_INSTANCE_PROFILE"]),
    "profile without role": (replace(private_lab(), instance_profiles=(InstanceProfile("lab-profile", PROFILE_ARN, ()),)),
                             ["NO_INSTANCE_PROFILE"]),
    "role trusts lambda": (with_role(private_lab(), CORE, trust={"Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
        ["ROLE_TRUST_MISSING_EC2"]),
    "core policy detached": (with_role(private_lab()), ["ROLE_MISSING_SSM_PERMISSIONS"]),
    "DNS support off": (replace(private_lab(), vpcs=(replace(private_lab().vpcs[0], dns_support=False),)),
                        ["VPC_DNS_SUPPORT_DISABLED"]),
    "DNS hostnames off": (replace(private_lab(), vpcs=(replace(private_lab().vpcs[0], dns_hostnames=False),)),
                          ["VPC_DNS_HOSTNAMES_DISABLED"]),
    "ssm endpoint missing": (endpoints(private_lab(), drop=("vpce-ssm",)), ["ENDPOINT_MISSING"]),
    "ssm endpoint pending": (endpoints(private_lab(), endpoint("ssm", state="pending")), ["ENDPOINT_NOT_AVAILABLE"]),
    "private DNS off": (endpoints(private_lab(), endpoint("ssm", private_dns=False)), ["ENDPOINT_PRIVATE_DNS_DISABLED"]),
    "endpoint SG without ingress": (groups(private_lab(), sg("sg-endpoints")), ["ENDPOINT_SG_BLOCKS_HTTPS"]),
    "endpoint SG ingress without source": (groups(private_lab(), sg("sg-endpoints", ingress=[https()])),
                                           ["ENDPOINT_SG_BLOCKS_HTTPS"]),
    "instance SG without egress": (groups(private_lab(), sg("sg-instance")), ["INSTANCE_SG_BLOCKS_HTTPS"]),
    "NACL without the return ports": (instance_nacl(instance_in_b(private_lab()), *RETURN_ONLY(443, 443)),
                                      ["NACL_BLOCKS_HTTPS"]),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_cause_gives_exactly_its_code(name):
    state, expected = SCENARIOS[name]
    assert codes(state) == expected


@pytest.mark.parametrize("name, state", [
    ("source-SG rule instead of a CIDR", groups(private_lab(), sg("sg-endpoints", ingress=[https(group="sg-instance")]))),
    ("prefix list instead of a CIDR", groups(private_lab(), sg("sg-endpoints", ingress=[https(pl=CORP_PL.prefix_list_id)]))),
    ("egress by reference to the endpoint SG", groups(private_lab(), sg("sg-instance", egress=[https(group="sg-endpoints")]))),
    ("inline policy instead of the managed one", with_role(private_lab(), inline=(
        Policy("inline", {"Statement": [{"Effect": "Allow", "Action": ["ssm:UpdateInstanceInformation", "ssmmessages:*",
                                                                         "ec2messages:*"], "Resource": "*"}]}),))),
    ("NACL allowing 1024-65535 back", instance_nacl(instance_in_b(private_lab()), *RETURN_ONLY(1024, 65535))),
    ("public subnet with an internet gateway and no endpoints", public_lab()),
    ("NAT gateway and no endpoints", public_lab(route_target="nat-1", public_ip=None)),
])
def test_valid_alternatives_are_not_findings(name, state):
    assert codes(state) == [], name


def test_a_public_path_means_no_endpoint_is_needed():
    diagnosis = diagnose(public_lab(), "i-1", node=ONLINE)
    assert "ENDPOINT_MISSING" not in diagnosis.codes(None)
    assert diagnosis.paths["ssm"].resolution.via == "public"


def test_one_broken_group_is_one_finding_naming_every_service_it_blocks():
    diagnosis = diagnose(groups(private_lab(), sg("sg-endpoints")), "i-1")
    (finding,) = [f for f in diagnosis.findings if f.code == "ENDPOINT_SG_BLOCKS_HTTPS"]
    assert finding.resource == "sg-endpoints"
    assert finding.message.startswith("ssm, ssmmessages:")  # ec2messages matters to old agents only
    assert "aws ec2 authorize-security-group-ingress --group-id sg-endpoints --protocol tcp --port 443 --cidr 10.0.0.0/16" in finding.fix.text
    assert "cidr_blocks" in finding.fix.text  # the Terraform attribute that was missing


def test_missing_endpoints_are_one_finding_per_service_with_the_create_command():
    diagnosis = diagnose(endpoints(private_lab(), drop=("vpce-ssm", "vpce-ssmmessages")), "i-1")
    missing = {f.resource: f for f in diagnosis.findings if f.code == "ENDPOINT_MISSING"}
    assert set(missing) == {"ssm", "ssmmessages"}
    assert "--service-name com.amazonaws.ap-northeast-1.ssmmessages" in missing["ssmmessages"].fix.text
    assert "--private-dns-enabled" in missing["ssm"].fix.text and "vpc-1" in missing["ssm"].fix.text


def test_ec2messages_matters_only_for_old_agents():
    state = endpoints(private_lab(), drop=("vpce-ec2messages",))
    modern = diagnose(state, "i-1", node=ONLINE)
    assert modern.ok and "EC2MESSAGES_ENDPOINT_NEEDED" not in modern.codes(None)  # two endpoints are the default
    old = diagnose(state, "i-1", node=NodeFacts("i-1", "Online", "3.2.582.0"))
    assert old.codes("error") == ["EC2MESSAGES_ENDPOINT_NEEDED"]
    (finding,) = [f for f in old.findings if f.code == "EC2MESSAGES_ENDPOINT_NEEDED"]
    assert finding.fix.text.startswith("update the agent") and "--with-ec2messages" in finding.fix.text


def test_the_missing_permissions_are_listed():
    state = with_role(private_lab(), Policy("only-register", {"Statement": [
        {"Effect": "Allow", "Action": "ssm:UpdateInstanceInformation", "Resource": "*"}]}))
    (finding,) = diagnose(state, "i-1").findings[:1]
    assert finding.code == "ROLE_MISSING_SSM_PERMISSIONS"
    assert "ssmmessages:CreateControlChannel" in finding.message and "ssm:UpdateInstanceInformation" not in finding.message
    assert "attach-role-policy --role-name lab-role --policy-arn arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore" in finding.fix.text


def test_the_simulator_answer_is_used_when_given():
    diagnosis = diagnose(private_lab(), "i-1", simulated_missing=("ssmmessages:OpenDataChannel",))
    assert diagnosis.codes("error") == ["ROLE_MISSING_SSM_PERMISSIONS"]
    assert diagnosis.iam_method == "iam:SimulatePrincipalPolicy"
    assert "policy documents" in diagnose(private_lab(), "i-1").iam_method


def test_not_managed_with_every_check_passing_recommends_a_reboot():
    diagnosis = diagnose(private_lab(), "i-1", node=NOT_REGISTERED)
    assert diagnosis.managed is False
    assert diagnosis.codes("error") == ["NOT_MANAGED"]
    reboot = next(f for f in diagnosis.findings if f.code == "REBOOT_RECOMMENDED")
    assert "credential refresher" in reboot.message and "aws ec2 reboot-instances --instance-ids i-1" in reboot.fix.text


def test_the_reboot_advice_says_when_the_hibernating_agent_pings_next():
    from datetime import datetime, timedelta, timezone

    now = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
    lab = private_lab()
    launched = replace(lab, taken_at=now,
                       instances=tuple(replace(i, launch_time=now - timedelta(minutes=38)) for i in lab.instances))
    reboot = next(f for f in diagnose(launched, "i-1", node=NOT_REGISTERED).findings if f.code == "REBOOT_RECOMMENDED")
    # hibernation pings 35 and 55 minutes after the start: the next is 17 minutes away
    assert "launched 38 minutes ago, its next attempt is in about 17 minutes" in reboot.message
    assert reboot.fix.text.startswith("reboot to try now: aws ec2 reboot-instances --instance-ids i-1")


def test_an_instance_still_booting_is_waited_for_not_rebooted():
    booting = NodeFacts("i-1", None, status_check="initializing")
    diagnosis = diagnose(private_lab(), "i-1", node=booting)
    assert diagnosis.ok and diagnosis.managed is False
    assert diagnosis.codes("warning") == ["AGENT_STARTING"]
    starting = next(f for f in diagnosis.findings if f.code == "AGENT_STARTING")
    assert "still booting" in starting.message and starting.fix.text.startswith("wait")
    assert "reboot" not in starting.fix.text
    # once booted (status checks ok), the same silence means the agent gave up or sleeps: reboot
    booted = diagnose(private_lab(), "i-1", node=NodeFacts("i-1", None, status_check="ok"))
    assert booted.codes("error") == ["NOT_MANAGED"] and "REBOOT_RECOMMENDED" in booted.codes("warning")
    # and a real cause is named even while it boots
    broken = diagnose(groups(private_lab(), sg("sg-instance")), "i-1", node=booting)
    assert "AGENT_STARTING" not in broken.codes(None) and "INSTANCE_SG_BLOCKS_HTTPS" in broken.codes("error")


def test_a_duplicate_part_of_the_lab_is_a_warning_with_the_cleanup_command():
    from ssmlab.status import Duplicate

    twice = (Duplicate("network", "VPC", ("vpc-1", "vpc-2")),)
    diagnosis = diagnose(replace(private_lab(), lab="lab"), "i-1", node=ONLINE, duplicates=twice)
    finding = next(f for f in diagnosis.findings if f.code == "DUPLICATE_RESOURCES")
    assert finding.severity == "warning" and "2 x VPC (vpc-1, vpc-2)" in finding.message
    assert finding.fix.text.startswith("ssmlab cleanup --lab lab")


def test_not_managed_with_a_cause_does_not_recommend_a_reboot():
    diagnosis = diagnose(groups(private_lab(), sg("sg-instance")), "i-1", node=NOT_REGISTERED)
    assert "REBOOT_RECOMMENDED" not in diagnosis.codes(None)
    assert sorted(diagnosis.codes("error")) == ["INSTANCE_SG_BLOCKS_HTTPS", "NOT_MANAGED"]


def test_connection_lost_after_a_repair_says_the_next_report_brings_it_back():
    from datetime import datetime, timedelta, timezone

    now = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
    node = NodeFacts("i-1", "ConnectionLost", last_ping=now - timedelta(minutes=7))
    lost = next(f for f in diagnose(replace(private_lab(), taken_at=now), "i-1", node=node).findings
                if f.code == "CONNECTION_LOST")
    assert "its next report should bring it back (its last report was 7 minutes ago)" in lost.message
    assert lost.fix.text.startswith("wait up to 5 minutes")
    blocked = diagnose(groups(private_lab(), sg("sg-instance")), "i-1", node=node)
    assert next(f for f in blocked.findings if f.code == "CONNECTION_LOST").fix.text == "fix the errors above"


def test_connection_lost_is_reported():
    assert "CONNECTION_LOST" in diagnose(private_lab(), "i-1", node=NodeFacts("i-1", "ConnectionLost")).codes()


def test_no_profile_is_only_info_under_default_host_management():
    state = replace(private_lab(), instances=(instance(profile_arn=None),))
    assert codes(state, dhmc_role="AWSSystemsManagerDefaultEC2InstanceManagementRole") == []
    finding = next(f for f in diagnose(state, "i-1", dhmc_role="dhmc-role").findings if f.code == "NO_INSTANCE_PROFILE")
    assert finding.severity == "info"
    optional_tokens = replace(state, instances=(instance(profile_arn=None, imds=replace(instance().imds, http_tokens="optional")),))
    assert codes(optional_tokens, dhmc_role="dhmc-role") == ["NO_INSTANCE_PROFILE"]  # DHMC needs IMDSv2


def test_no_profile_fix_names_a_profile_that_would_work():
    state = replace(private_lab(), instances=(instance(profile_arn=None),))
    finding = next(f for f in diagnose(state, "i-1").findings if f.code == "NO_INSTANCE_PROFILE")
    assert "aws ec2 associate-iam-instance-profile --instance-id i-1 --iam-instance-profile Name=lab-profile" in finding.fix.text
    assert "reboot" in finding.fix.text


def test_an_ami_without_the_agent_is_a_warning():
    state = replace(private_lab(), images=(Image("ami-1", "debian-12-amd64-20260101"),))
    assert codes(state, "warning") == ["AGENT_NOT_PREINSTALLED"]
    assert codes(replace(private_lab(), images=(Image("ami-1", "al2023-ami-2023.9.0-kernel-6.1-x86_64"),)), "warning") == []


def test_session_logging_unreachable_is_an_error():
    preferences = {"cloudWatchLogGroupName": "/ssmlab/demo/sessions", "s3BucketName": ""}
    diagnosis = diagnose(private_lab(), "i-1", preferences=preferences)
    (finding,) = [f for f in diagnosis.findings if f.code == "SESSION_LOGGING_UNREACHABLE"]
    assert finding.resource == "/ssmlab/demo/sessions" and "logs" in finding.message
    reachable = endpoints(private_lab(), endpoint("logs"))
    no_permission = [f for f in diagnose(reachable, "i-1", preferences=preferences).findings
                     if f.code == "SESSION_LOGGING_UNREACHABLE"]
    assert len(no_permission) == 1 and "logs:CreateLogStream, logs:PutLogEvents" in no_permission[0].message
    writer = Policy("session-logging", {"Statement": [{
        "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": "arn:aws:logs:ap-northeast-1:123456789012:log-group:/ssmlab/demo/sessions:*"}]})
    allowed = with_role(reachable, CORE, inline=(writer,))
    assert "SESSION_LOGGING_UNREACHABLE" not in diagnose(allowed, "i-1", preferences=preferences).codes()


def test_json_has_the_design_shape():
    payload = diagnose(groups(private_lab(), sg("sg-instance")), "i-1", node=NOT_REGISTERED).to_json()
    assert set(payload) == {"instance_id", "region", "ok", "managed", "findings"}
    assert payload["ok"] is False and payload["managed"] is False
    for finding in payload["findings"]:
        assert set(finding) == {"code", "severity", "resource", "message", "fix", "services", "commands", "terraform", "why"}
        assert all(isinstance(argv, list) and argv[0] == "aws" for argv in finding["commands"])
        assert finding["code"] in CODES and finding["severity"] in ("error", "warning", "info")
