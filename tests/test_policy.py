"""IAM evaluation for the agent's needs: scenario tables over hand-written policy documents."""

from __future__ import annotations

import json

import pytest
from moto.iam.aws_managed_policies import aws_managed_policies_data

from ssmlab.model import Policy, Role
from ssmlab.policy import (
    AGENT_REGISTRATION_ACTIONS, CONTROL_CHANNEL_ACTIONS, DATA_CHANNEL_ACTIONS, EC2MESSAGES_ACTIONS,
    SESSION_MANAGER_ACTIONS, assumed_role_arn, evaluate, missing_actions, role_policies, trusts_service,
)

# The real AWS managed policy, as moto ships it (not pasted here, so it stays AWS's text).
CORE = Policy(
    "AmazonSSMManagedInstanceCore",
    json.loads(aws_managed_policies_data)["AmazonSSMManagedInstanceCore"]["Document"],
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
)
INSTANCE = "arn:aws:ec2:ap-northeast-1:123456789012:instance/i-0123456789abcdef0"


def doc(*statements, as_dict=False):
    return {"Version": "2012-10-17", "Statement": statements[0] if as_dict else list(statements)}


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def pol(name, *statements, as_dict=False):
    return Policy(name, doc(*statements, as_dict=as_dict))


SSM_FULL = pol("AmazonSSMFullAccess-like", allow("ssm:*"))
ADMIN = pol("AdministratorAccess-like", allow("*"))


def test_session_manager_actions_are_the_agent_actions_of_the_core_policy():
    assert SESSION_MANAGER_ACTIONS == (
        AGENT_REGISTRATION_ACTIONS + CONTROL_CHANNEL_ACTIONS + DATA_CHANNEL_ACTIONS + EC2MESSAGES_ACTIONS
    )
    assert set(SESSION_MANAGER_ACTIONS) == {
        "ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel", "ssmmessages:OpenControlChannel",
        "ssmmessages:CreateDataChannel", "ssmmessages:OpenDataChannel", "ec2messages:GetMessages",
    }


@pytest.mark.parametrize("action", SESSION_MANAGER_ACTIONS)
def test_the_real_core_policy_allows_every_session_manager_action(action):
    decision = evaluate([CORE], action)
    assert decision.allowed and not decision.conditional
    assert decision.source == "AmazonSSMManagedInstanceCore"


@pytest.mark.parametrize(
    "policies, action, resource, allowed, source, conditional",
    [
        pytest.param([SSM_FULL], "ssm:UpdateInstanceInformation", "*", True, "AmazonSSMFullAccess-like", False, id="ssm-star-ssm"),
        pytest.param([SSM_FULL], "ssmmessages:CreateControlChannel", "*", False, None, False, id="ssm-star-not-ssmmessages"),
        pytest.param([SSM_FULL], "ec2messages:GetMessages", "*", False, None, False, id="ssm-star-not-ec2messages"),
        pytest.param([ADMIN], "ssmmessages:OpenDataChannel", "*", True, "AdministratorAccess-like", False, id="star"),
        pytest.param([pol("p", allow("ssm:Update*"))], "ssm:UpdateInstanceInformation", "*", True, "p", False, id="prefix-wildcard"),
        pytest.param([pol("p", allow("ssm:Update*"))], "ssm:PutInventory", "*", False, None, False, id="prefix-wildcard-miss"),
        pytest.param([pol("p", allow("SSM:updateinstanceINFORMATION"))], "ssm:UpdateInstanceInformation", "*", True, "p", False,
                     id="case-insensitive-action"),
        pytest.param([pol("p", allow("ssmmessages:??????ControlChannel"))], "ssmmessages:CreateControlChannel", "*", True, "p",
                     False, id="question-mark-wildcard"),
        pytest.param([pol("p", allow("ssmmessages:?????ControlChannel"))], "ssmmessages:CreateControlChannel", "*", False, None,
                     False, id="question-mark-is-exactly-one"),
        pytest.param([pol("p", allow("ssm*"))], "ssmmessages:OpenControlChannel", "*", True, "p", False,
                     id="service-prefix-is-part-of-the-pattern"),
        pytest.param([pol("p", allow(["ec2:Describe*", "ec2messages:GetMessages"]))], "ec2messages:GetMessages", "*", True,
                     "p", False, id="action-list"),
        pytest.param([pol("p", allow("ssm:*", as_dict=True), as_dict=True)], "ssm:GetDocument", "*", True, "p", False,
                     id="statement-as-dict"),
        # Explicit deny wins, in the same policy or across policies.
        pytest.param([pol("p", allow("*"), {**deny("ssm:*"), "Sid": "NoSsm"})], "ssm:UpdateInstanceInformation", "*", False,
                     "p/NoSsm", False, id="deny-wins-same-policy"),
        pytest.param([CORE, pol("guardrail", deny("ssmmessages:*"))], "ssmmessages:CreateDataChannel", "*", False,
                     "guardrail", False, id="deny-wins-across-policies"),
        pytest.param([pol("guardrail", deny("ssmmessages:*")), CORE], "ssm:UpdateInstanceInformation", "*", True,
                     "AmazonSSMManagedInstanceCore", False, id="deny-of-other-actions-does-not-matter"),
        # NotAction: everything except.
        pytest.param([pol("p", {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})], "ssm:UpdateInstanceInformation",
                     "*", True, "p", False, id="notaction-allows-others"),
        pytest.param([pol("p", {"Effect": "Allow", "NotAction": ["ssmmessages:*"], "Resource": "*"})],
                     "ssmmessages:OpenControlChannel", "*", False, None, False, id="notaction-excludes"),
        pytest.param([ADMIN, pol("p", {"Effect": "Deny", "NotAction": "ssm:*", "Resource": "*"})],
                     "ec2messages:GetMessages", "*", False, "p", False, id="deny-notaction"),
        # Resources: case-sensitive with wildcards; "*" asks about every resource.
        pytest.param([pol("p", allow("ssm:UpdateInstanceInformation", "arn:aws:ec2:*:*:instance/*"))],
                     "ssm:UpdateInstanceInformation", INSTANCE, True, "p", False, id="resource-wildcard"),
        pytest.param([pol("p", allow("ssm:UpdateInstanceInformation", "arn:aws:ec2:*:*:instance/i-other"))],
                     "ssm:UpdateInstanceInformation", INSTANCE, False, None, False, id="resource-other-instance"),
        pytest.param([pol("p", allow("ssm:UpdateInstanceInformation", "arn:aws:ec2:*:*:instance/*"))],
                     "ssm:UpdateInstanceInformation", "*", False, None, False, id="restricted-resource-is-not-every-resource"),
        pytest.param([pol("p", allow("ssm:UpdateInstanceInformation", "arn:aws:ec2:*:*:INSTANCE/*"))],
                     "ssm:UpdateInstanceInformation", INSTANCE, False, None, False, id="resource-case-sensitive"),
        pytest.param([pol("p", allow("ssm:UpdateInstanceInformation", ["arn:aws:ssm:*:*:*", "arn:aws:ec2:*:*:instance/i-*"]))],
                     "ssm:UpdateInstanceInformation", INSTANCE, True, "p", False, id="resource-list"),
        pytest.param([pol("p", {"Effect": "Allow", "Action": "ssm:*", "NotResource": "arn:aws:ssm:*:*:document/*"})],
                     "ssm:UpdateInstanceInformation", INSTANCE, True, "p", False, id="notresource"),
        pytest.param([ADMIN, pol("p", deny("ssm:*", "arn:aws:ec2:*:*:instance/i-0123456789abcdef0"))],
                     "ssm:UpdateInstanceInformation", INSTANCE, False, "p", False, id="deny-on-this-instance"),
        pytest.param([pol("p", allow("ssm:*", "arn:aws:ec2:*:*:instance/${aws:userid}"))],
                     "ssm:UpdateInstanceInformation", INSTANCE, True, "p", True, id="policy-variable-is-conditional"),
        # Conditions cannot be checked offline: assumed to match, and said so.
        pytest.param([pol("p", allow("ssm:*", Condition={"StringEquals": {"aws:ResourceTag/env": "lab"}}))],
                     "ssm:UpdateInstanceInformation", "*", True, "p", True, id="condition-allows-conditionally"),
        pytest.param([pol("p", allow("ssm:*", Condition={"Bool": {"aws:SecureTransport": "true"}}), allow("ssm:*"))],
                     "ssm:UpdateInstanceInformation", "*", True, "p", False, id="unconditional-allow-preferred"),
        pytest.param([ADMIN, pol("p", deny("ssm:*", Condition={"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}))],
                     "ssm:UpdateInstanceInformation", "*", False, "p", True, id="conditional-deny"),
        # Nothing allows: implicit deny.
        pytest.param([], "ssm:UpdateInstanceInformation", "*", False, None, False, id="empty-set"),
        pytest.param([Policy("empty", {})], "ssm:UpdateInstanceInformation", "*", False, None, False, id="empty-document"),
        pytest.param([pol("p", {"Effect": "Allow", "Resource": "*"})], "ssm:UpdateInstanceInformation", "*", False, None, False,
                     id="statement-without-action"),
    ],
)
def test_evaluate(policies, action, resource, allowed, source, conditional):
    decision = evaluate(policies, action, resource)
    assert (decision.action, decision.allowed, decision.source, decision.conditional) == (action, allowed, source, conditional)
    if not allowed and source is None:
        assert "implicit deny" in decision.reason
    if source and not allowed:
        assert "explicitly denied" in decision.reason and source in decision.reason


@pytest.mark.parametrize(
    "policies, missing",
    [
        pytest.param([CORE], (), id="core"),
        pytest.param([SSM_FULL], CONTROL_CHANNEL_ACTIONS + DATA_CHANNEL_ACTIONS + EC2MESSAGES_ACTIONS, id="ssm-full-access"),
        pytest.param([pol("p", allow("ssm:UpdateInstanceInformation"))], SESSION_MANAGER_ACTIONS[1:], id="registration-only"),
        pytest.param([], SESSION_MANAGER_ACTIONS, id="nothing"),
        pytest.param([CORE, pol("p", deny("ec2messages:*"))], EC2MESSAGES_ACTIONS, id="deny-ec2messages"),
    ],
)
def test_missing_actions_keeps_the_order_asked(policies, missing):
    assert missing_actions(policies, SESSION_MANAGER_ACTIONS) == missing


def test_missing_actions_accepts_any_iterable_of_policies_once():
    assert missing_actions(iter([SSM_FULL]), SESSION_MANAGER_ACTIONS[:2]) == ("ssmmessages:CreateControlChannel",)


def test_role_policies_are_managed_then_inline():
    inline = pol("inline", allow("ssm:*"))
    role = Role("r", "arn:aws:iam::123456789012:role/r", {}, (CORE,), (inline,))
    assert role_policies(role) == (CORE, inline)
    assert role_policies(Role("r", "arn", {})) == ()


def trust(*statements, as_dict=False):
    return doc(*statements, as_dict=as_dict)


def assume(principal, effect="Allow", action="sts:AssumeRole"):
    return {"Effect": effect, "Principal": principal, "Action": action}


@pytest.mark.parametrize(
    "policy, service, trusted",
    [
        pytest.param(trust(assume({"Service": "ec2.amazonaws.com"})), "ec2.amazonaws.com", True, id="ec2"),
        pytest.param(trust(assume({"Service": "ec2.amazonaws.com"}), as_dict=True), "ec2.amazonaws.com", True,
                     id="statement-as-dict"),
        pytest.param(trust(assume({"Service": "lambda.amazonaws.com"})), "ec2.amazonaws.com", False, id="lambda"),
        pytest.param(trust(assume({"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]})), "ec2.amazonaws.com", True,
                     id="list-of-services"),
        pytest.param(trust(assume({"Service": "ec2.amazonaws.com"}, action="sts:*")), "ec2.amazonaws.com", True,
                     id="wildcard-action"),
        pytest.param(trust(assume({"Service": "ec2.amazonaws.com"}, action=["sts:AssumeRole", "sts:TagSession"])),
                     "ec2.amazonaws.com", True, id="action-list"),
        pytest.param(trust(assume({"Service": "ec2.amazonaws.com"}, action="sts:AssumeRoleWithWebIdentity")),
                     "ec2.amazonaws.com", False, id="other-action"),
        pytest.param(trust(assume({"AWS": "arn:aws:iam::123456789012:root"})), "ec2.amazonaws.com", False, id="account-principal"),
        pytest.param(trust(assume({"Service": "ec2.amazonaws.com"}), assume({"Service": "ec2.amazonaws.com"}, "Deny")),
                     "ec2.amazonaws.com", False, id="deny-for-the-service"),
        pytest.param(trust(assume({"Service": "ec2.amazonaws.com"}), assume("*", "Deny")), "ec2.amazonaws.com", False,
                     id="deny-for-everyone"),
        pytest.param(trust(assume({"Service": "ec2.amazonaws.com"}), assume({"Service": "lambda.amazonaws.com"}, "Deny")),
                     "ec2.amazonaws.com", True, id="deny-for-another-service"),
        pytest.param(trust(assume({"Service": "ssm.amazonaws.com"})), "ssm.amazonaws.com", True, id="dhmc-role-trusts-ssm"),
        pytest.param({}, "ec2.amazonaws.com", False, id="empty"),
        pytest.param(None, "ec2.amazonaws.com", False, id="none"),
    ],
)
def test_trusts_service(policy, service, trusted):
    assert trusts_service(policy, service) is trusted


def test_an_instance_profiles_session_is_named_after_the_instance():
    assert assumed_role_arn("arn:aws:iam::123456789012:role/ssmlab/lab-role", "i-1") == \
        "arn:aws:sts::123456789012:assumed-role/lab-role/i-1"
    assert assumed_role_arn("arn:aws-cn:iam::123456789012:role/r", "i-2") == "arn:aws-cn:sts::123456789012:assumed-role/r/i-2"
