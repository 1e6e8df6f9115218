"""registration.assess: can the agent register and hold its channels? Scenario tables over hand-built states."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ssmlab.model import InstanceProfile, Policy
from ssmlab.registration import agent_needs_ec2messages, assess
from builders import (
    CORE, PROFILE_ARN, ROLE_ARN, endpoints, groups, instance, private_lab, sg, with_role,
)


def allow(action, resource="*"):
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}


def deny(action):
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": action, "Resource": "*"}]}


LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
NO_EC2MESSAGES = {"drop": ("vpce-ec2messages",)}
NO_SSMMESSAGES = {"drop": ("vpce-ssmmessages",)}

SCENARIOS = [
    # id, state factory, agent version,
    # (registers, credentials code, registration code, control code, session code)
    ("complete", private_lab, None, (True, None, None, None, None)),
    ("complete-old-agent", private_lab, "3.2.1630.0", (True, None, None, None, None)),
    ("imds-disabled", lambda: replace(private_lab(), instances=(instance(imds=replace(instance().imds, http_endpoint="disabled")),)),
     None, (False, "IMDS_DISABLED", None, None, None)),
    ("no-profile", lambda: replace(private_lab(), instances=(instance(profile_arn=None),)), None,
     (False, "NO_INSTANCE_PROFILE", "NO_INSTANCE_PROFILE", "NO_INSTANCE_PROFILE", "NO_INSTANCE_PROFILE")),
    ("profile-not-in-state", lambda: replace(private_lab(), instance_profiles=()), None,
     (False, "NO_INSTANCE_PROFILE", "NO_INSTANCE_PROFILE", "NO_INSTANCE_PROFILE", "NO_INSTANCE_PROFILE")),
    ("profile-without-role", lambda: replace(private_lab(), instance_profiles=(InstanceProfile("lab-profile", PROFILE_ARN, ()),)),
     None, (False, "NO_INSTANCE_PROFILE", "NO_INSTANCE_PROFILE", "NO_INSTANCE_PROFILE", "NO_INSTANCE_PROFILE")),
    ("role-not-in-state", lambda: replace(private_lab(), roles=()), None,
     (False, "NO_INSTANCE_PROFILE", "NO_INSTANCE_PROFILE", "NO_INSTANCE_PROFILE", "NO_INSTANCE_PROFILE")),
    ("role-trusting-lambda", lambda: with_role(private_lab(), CORE, trust=LAMBDA_TRUST), None,
     (False, "ROLE_TRUST_MISSING_EC2", None, None, None)),
    ("role-without-policies", lambda: with_role(private_lab()), None,
     (False, None, "ROLE_MISSING_SSM_PERMISSIONS", "ROLE_MISSING_SSM_PERMISSIONS", "ROLE_MISSING_SSM_PERMISSIONS")),
    ("role-with-only-update-instance-information",
     lambda: with_role(private_lab(), inline=(Policy("register", allow("ssm:UpdateInstanceInformation")),)), None,
     (True, None, None, "ROLE_MISSING_SSM_PERMISSIONS", "ROLE_MISSING_SSM_PERMISSIONS")),
    ("inline-policy-is-enough",
     lambda: with_role(private_lab(), inline=(Policy("agent", allow(["ssm:UpdateInstanceInformation", "ssmmessages:*"])),)),
     None, (True, None, None, None, None)),
    ("instance-scoped-registration",
     lambda: with_role(
         private_lab(), Policy("scoped", allow("ssm:UpdateInstanceInformation", "arn:aws:ec2:ap-northeast-1:123456789012:instance/*")),
         inline=(Policy("channels", allow("ssmmessages:*")),)), None, (True, None, None, None, None)),
    ("registration-scoped-to-another-instance",
     lambda: with_role(private_lab(), Policy("scoped", allow("ssm:UpdateInstanceInformation", "arn:aws:ec2:*:*:instance/i-other")),
                       Policy("channels", allow("ssmmessages:*"))), None,
     (False, None, "ROLE_MISSING_SSM_PERMISSIONS", None, None)),
    ("explicit-deny-on-ssm", lambda: with_role(private_lab(), CORE, inline=(Policy("no-ssm", deny("ssm:*")),)), None,
     (False, None, "ROLE_MISSING_SSM_PERMISSIONS", None, None)),
    ("ssm-endpoint-missing", lambda: endpoints(private_lab(), drop=("vpce-ssm",)), None,
     (False, None, "ENDPOINT_MISSING", None, None)),
    ("endpoint-sg-blocks-everything", lambda: groups(private_lab(), sg("sg-endpoints")), None,
     (False, None, "ENDPOINT_SG_BLOCKS_HTTPS", "ENDPOINT_SG_BLOCKS_HTTPS", "ENDPOINT_SG_BLOCKS_HTTPS")),
    ("instance-stopped", lambda: replace(private_lab(), instances=(instance(state="stopped"),)), None,
     (False, None, "INSTANCE_NOT_RUNNING", "INSTANCE_NOT_RUNNING", "INSTANCE_NOT_RUNNING")),
    # ssmmessages unreachable: registered ("Online"), sessions fail; agents >= 3.3.40.0 fall back to ec2messages.
    ("ssmmessages-missing-modern-agent", lambda: endpoints(private_lab(), **NO_SSMMESSAGES), None,
     (True, None, None, None, "ENDPOINT_MISSING")),
    ("ssmmessages-missing-agent-3.3.40", lambda: endpoints(private_lab(), **NO_SSMMESSAGES), "3.3.40.0",
     (True, None, None, None, "ENDPOINT_MISSING")),
    ("ssmmessages-and-ec2messages-missing", lambda: endpoints(private_lab(), drop=("vpce-ssmmessages", "vpce-ec2messages")), None,
     (True, None, None, "ENDPOINT_MISSING", "ENDPOINT_MISSING")),
    ("ec2messages-missing-modern-agent", lambda: endpoints(private_lab(), **NO_EC2MESSAGES), "3.3.1142.0",
     (True, None, None, None, None)),
    ("ec2messages-missing-agent-3.2", lambda: endpoints(private_lab(), **NO_EC2MESSAGES), "3.2.1630.0",
     (True, None, None, "ENDPOINT_MISSING", None)),
    ("old-agent-without-ec2messages-permission",
     lambda: with_role(private_lab(), CORE, inline=(Policy("no-ec2messages", deny("ec2messages:*")),)), "3.2.582.0",
     (True, None, None, "ROLE_MISSING_SSM_PERMISSIONS", None)),
    ("ssmmessages-missing-fallback-without-permission",
     lambda: with_role(endpoints(private_lab(), **NO_SSMMESSAGES), CORE, inline=(Policy("no-ec2messages", deny("ec2messages:*")),)),
     None, (True, None, None, "ENDPOINT_MISSING", "ENDPOINT_MISSING")),
]


@pytest.mark.parametrize("make, version, expected", [pytest.param(*s[1:], id=s[0]) for s in SCENARIOS])
def test_scenarios(make, version, expected):
    a = assess(make(), "i-1", version)
    got = (a.registers, a.credentials.code, a.registration.code, a.control_channel.code, a.session_channel.code)
    assert got == expected, (a.credentials, a.registration, a.control_channel, a.session_channel)
    for check in (a.credentials, a.registration, a.control_channel, a.session_channel):
        assert check.passed is (check.code is None) and check.detail
    assert a.ssm_path is not None and a.ssm_path.service == "ssm"
    assert set(a.channel_paths) == {"ssmmessages", "ec2messages"}


def test_missing_permissions_are_listed():
    a = assess(with_role(private_lab(), inline=(Policy("register", allow("ssm:UpdateInstanceInformation")),)), "i-1")
    assert "ssmmessages:CreateControlChannel" in a.control_channel.detail
    assert "ssmmessages:OpenControlChannel" in a.control_channel.detail
    assert "ssmmessages:CreateDataChannel" in a.session_channel.detail and a.session_channel.resource == ROLE_ARN


def test_the_fallback_is_explained():
    a = assess(endpoints(private_lab(), **NO_SSMMESSAGES), "i-1")
    assert a.control_channel.passed and "falls back to ec2messages" in a.control_channel.detail
    assert not a.channel_paths["ssmmessages"].reachable and a.channel_paths["ec2messages"].reachable


def test_an_old_agent_is_told_why_it_needs_ec2messages():
    a = assess(endpoints(private_lab(), **NO_EC2MESSAGES), "i-1", "3.2.1630.0")
    assert "older than 3.3.40.0" in a.control_channel.detail and a.control_channel.resource == "vpc-1"


def test_failures_point_at_the_resource_to_fix():
    assert assess(with_role(private_lab(), CORE, trust=LAMBDA_TRUST), "i-1").credentials.resource == ROLE_ARN
    assert assess(replace(private_lab(), instances=(instance(profile_arn=None),)), "i-1").credentials.resource == "i-1"
    assert assess(groups(private_lab(), sg("sg-endpoints")), "i-1").registration.resource == "sg-endpoints"


def test_a_conditional_permission_is_flagged():
    conditional = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ssm:UpdateInstanceInformation", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/env": "lab"}}}]}
    a = assess(with_role(private_lab(), CORE, inline=(Policy("tagged", conditional),)), "i-1")
    assert a.registers  # the unconditional grant of the core policy decides
    only_conditional = with_role(private_lab(), Policy("tagged", conditional), Policy("channels", allow("ssmmessages:*")))
    a = assess(only_conditional, "i-1")
    assert a.registers and "Condition" in a.registration.detail


def test_an_unknown_instance_fails_every_check():
    a = assess(private_lab(), "i-unknown")
    assert not a.registers and a.ssm_path is None and a.channel_paths == {}
    assert {c.code for c in (a.credentials, a.registration, a.control_channel, a.session_channel)} == {"INSTANCE_NOT_FOUND"}


@pytest.mark.parametrize(
    "version, needs",
    [
        (None, False),
        ("3.3.40.0", False),
        ("3.3.40", False),
        ("3.3.1142.0", False),
        ("4.0.0.0", False),
        ("3.3.39.0", True),
        ("3.2.1630.0", True),
        ("3.2.582.0", True),
        ("2.3.68.0", True),
        (" 3.1.501.0 ", True),
    ],
)
def test_agent_needs_ec2messages(version, needs):
    assert agent_needs_ec2messages(version) is needs


@pytest.mark.parametrize("version", ["latest", "3.x", ""])
def test_a_bad_agent_version_is_refused(version):
    with pytest.raises(ValueError, match="expected numbers such as 3.3.40.0"):
        agent_needs_ec2messages(version)
