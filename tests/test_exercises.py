"""Each exercise's check on hand-built states: it passes on a right answer, and on a wrong one it says what is still
missing in the learner's terms; the exercise object never raises at the learner, and its hints are there."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ssmlab import conditions, cost
from ssmlab.exercises import judges
from ssmlab.exercises.exercise import Exercise, unsolved
from ssmlab.exercises.verdict import Verdict
from ssmlab.model import TAG_KEY, Imds, Policy, Role
from ssmlab.prices import PriceBook
from tests.builders import ACCOUNT, LAB, REGION, endpoint, endpoints, groups, https, instance, kit_lab, sg, tagged


def solved(verdict: Verdict) -> bool:
    return verdict.solved and verdict.right and not verdict.missing


def missing(verdict: Verdict, *words: str) -> bool:
    said = " ".join(verdict.missing)
    return not verdict.solved and all(w in said for w in words)


def test_01_dns_hostnames_on_passes_and_off_says_private_dns_needs_it():
    state = kit_lab()
    assert solved(judges.dns_attributes(state))
    off = replace(state, vpcs=(replace(state.vpcs[0], dns_hostnames=False),))
    assert missing(judges.dns_attributes(off), "enableDnsHostnames is still off", "private DNS needs it")


def _endpoint_group(*ingress):
    return tagged(replace(sg("sg-endpoints", ingress=ingress), name=f"{LAB}-endpoints"))


def test_02_the_ingress_rule_must_admit_443_from_the_subnet_and_wider_rules_are_noted():
    assert solved(judges.endpoint_ingress(groups(kit_lab(), _endpoint_group(https("10.0.0.0/16")))))
    by_group = judges.endpoint_ingress(groups(kit_lab(), _endpoint_group(https(group="sg-instance"))))
    assert solved(by_group)
    assert missing(judges.endpoint_ingress(groups(kit_lab(), _endpoint_group())), "does not admit the agent")
    assert missing(judges.endpoint_ingress(groups(kit_lab(), _endpoint_group(https("10.0.0.0/16", ports=(80, 80))))),
                   "tcp 80")
    assert missing(judges.endpoint_ingress(groups(kit_lab(), _endpoint_group(https(None)))), "admits nobody")
    wide = judges.endpoint_ingress(groups(kit_lab(), _endpoint_group(https("0.0.0.0/0", protocol="-1", ports=(None, None)))))
    assert wide.solved and any("admits any address" in n for n in wide.notes) and any("more than tcp/443" in n for n in wide.notes)


def test_03_the_endpoint_needs_interface_private_dns_the_subnet_the_group_and_the_tag():
    state = kit_lab()
    assert solved(judges.session_endpoint(state, "ssmmessages", "sg-endpoints"))
    gone = endpoints(state, drop=("vpce-ssmmessages",))
    assert missing(judges.session_endpoint(gone, "ssmmessages", "sg-endpoints"), "no ssmmessages endpoint")
    learner = endpoint("ssmmessages", private_dns=False, groups=("sg-default",), subnets=("subnet-a",))
    verdict = judges.session_endpoint(endpoints(state, learner), "ssmmessages", "sg-endpoints")
    assert missing(verdict, "private DNS is off", "does not carry the endpoint group", "lacks the lab's tag")
    assert "it is available" in verdict.right and any("no interface in subnet-b" in n for n in verdict.notes)
    elsewhere = endpoint("ssmmessages", subnets=("subnet-z",))
    assert missing(judges.session_endpoint(endpoints(state, tagged(elsewhere)), "ssmmessages", "sg-endpoints"),
                   "no network interface in the lab's subnets")
    pending = endpoints(state, tagged(endpoint("ssmmessages", state="pending", subnets=("subnet-a", "subnet-b"))))
    assert missing(judges.session_endpoint(pending, "ssmmessages", "sg-endpoints"), "it is pending")


INSTANCES = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/*"
DOCUMENT = f"arn:aws:ssm:{REGION}:{ACCOUNT}:document/SSM-SessionManagerRunShell"
ON_THE_LAB = {"StringEquals": {f"ssm:resourceTag/{TAG_KEY}": LAB}}


def operator(*statements: dict) -> Role:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return Role(f"{LAB}-operator", f"arn:aws:iam::{ACCOUNT}:role/{LAB}-operator", {}, (),
                (Policy("start-sessions", document),) if statements else ())


def allow(action, resource, condition=None):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **({"Condition": condition} if condition else {})}


def test_04_the_session_policy_allows_the_labs_instances_and_the_document_only():
    right = operator(allow("ssm:StartSession", INSTANCES, ON_THE_LAB), allow("ssm:StartSession", DOCUMENT),
                     allow(["ssm:TerminateSession", "ssm:ResumeSession"], "arn:aws:ssm:*:*:session/${aws:userid}-*"))
    verdict = judges.session_policy(right, LAB, REGION, ACCOUNT)
    assert solved(verdict) and not verdict.notes
    assert missing(judges.session_policy(operator(), LAB, REGION, ACCOUNT), "no policy yet")
    assert missing(judges.session_policy(None, LAB, REGION, ACCOUNT), f"{LAB}-operator is not there")
    everywhere = judges.session_policy(operator(allow("ssm:StartSession", "*")), LAB, REGION, ACCOUNT)
    assert missing(everywhere, "<another lab> are allowed too", "without the lab's tag")
    assert any("end their own sessions" in n for n in everywhere.notes)
    no_document = judges.session_policy(operator(allow("ssm:StartSession", INSTANCES, ON_THE_LAB)), LAB, REGION, ACCOUNT)
    assert missing(no_document, "SSM-SessionManagerRunShell") and "instances of other labs are refused" in no_document.right
    too_much = operator(allow("ssm:*", INSTANCES, ON_THE_LAB), allow("ssm:StartSession", DOCUMENT))
    assert missing(judges.session_policy(too_much, LAB, REGION, ACCOUNT), "ssm:SendCommand is allowed")
    aws_key = operator(allow("ssm:StartSession", INSTANCES, {"StringLike": {f"aws:ResourceTag/{TAG_KEY}": LAB}}),
                       allow("ssm:StartSession", DOCUMENT))
    assert judges.session_policy(aws_key, LAB, REGION, ACCOUNT).solved  # the global key works as well


def test_05_imdsv2_required():
    state = kit_lab()
    assert solved(judges.imds_v2(state, "i-1"))
    v1 = replace(state, instances=(instance(imds=Imds("enabled", "optional", 2)),))
    assert missing(judges.imds_v2(v1, "i-1"), "HttpTokens is still optional")
    assert missing(judges.imds_v2(state, "i-gone"), "not in the lab")


def test_06_the_endpoint_address_is_its_network_interfaces_and_wrong_ones_are_named():
    state = kit_lab()  # ssm's interface is 10.0.0.10, ssmmessages' 10.0.0.11
    assert solved(judges.endpoint_address(state, "ssm", "10.0.0.10"))
    assert missing(judges.endpoint_address(state, "ssm", "10.0.0.11"), "ssmmessages endpoint's address")
    assert missing(judges.endpoint_address(state, "ssm", "10.0.0.2"), "DNS resolver")
    assert missing(judges.endpoint_address(state, "ssm", "52.119.0.1"), "public address")
    assert missing(judges.endpoint_address(state, "ssm", "ssm.example"), "not an IPv4 address")
    assert missing(judges.endpoint_address(state, "ssm", None), "no answer yet")


def test_07_the_transcript_goes_through_the_logs_endpoint():
    state = endpoints(kit_lab(), tagged(endpoint("logs")))
    assert solved(judges.logs_endpoint(state, "vpce-logs"))
    assert missing(judges.logs_endpoint(state, "vpce-ssmmessages"), "the session itself")
    assert missing(judges.logs_endpoint(state, "vpce-nope"), "not an endpoint of the lab", "vpce-logs (logs)")


def test_08_the_database_must_be_reachable_on_its_port_and_wide_rules_are_noted():
    database = instance(instance_id="i-db", ip="10.0.0.50", groups=("sg-db",), profile_arn=None)
    db_group = sg("sg-db", ingress=[https(group="sg-instance", ports=(5432, 5432))])
    base = replace(kit_lab(), instances=kit_lab().instances + (database,))
    closed = groups(base, db_group)
    assert missing(judges.database_egress(closed, "i-1", "10.0.0.50", 5432), "instance-sg-egress")
    rule = https(group="sg-db", ports=(5432, 5432))
    opened = groups(closed, replace(sg("sg-instance", egress=[https("10.0.0.0/16"), rule]), name=f"{LAB}-instance"))
    assert solved(judges.database_egress(opened, "i-1", "10.0.0.50", 5432))
    wrong_port = replace(rule, port_from=5433, port_to=5433)
    assert missing(judges.database_egress(groups(closed, sg("sg-instance", egress=[wrong_port])), "i-1", "10.0.0.50", 5432),
                   "tcp 5432")
    everything = groups(closed, sg("sg-instance", egress=[https("0.0.0.0/0", protocol="-1", ports=(None, None))]))
    wide = judges.database_egress(everything, "i-1", "10.0.0.50", 5432)
    assert wide.solved and any("far more than the database" in n for n in wide.notes)


def test_09_a_prediction_is_right_when_the_doctor_reports_it():
    codes = ["ENDPOINT_PRIVATE_DNS_DISABLED", "CONNECTION_LOST"]
    assert solved(judges.doctor_prediction(codes, "endpoint_private_dns_disabled ", "dns off"))
    assert missing(judges.doctor_prediction(codes, "ENDPOINT_MISSING", "dns off"), "did not report ENDPOINT_MISSING",
                   "ENDPOINT_PRIVATE_DNS_DISABLED")
    assert missing(judges.doctor_prediction(codes, None, "dns off"), "no answer yet")


def test_10_the_cheapest_option_that_records_transcripts():
    priced = cost.estimate(PriceBook.offline(), cost.Scenario(REGION, azs=2, participants=12, gb=5))
    able = [o for o in priced.options if judges.records_transcripts(o)]
    best = min(able, key=lambda o: o.total)
    assert {o.key for o in able} == {"ssm-logging", "ssm-logging-kms", "nat"}
    assert solved(judges.cheapest_with_transcripts(priced, best.key))
    worse = next(o for o in able if o.key != best.key)
    assert missing(judges.cheapest_with_transcripts(priced, worse.key), "costs less")
    assert missing(judges.cheapest_with_transcripts(priced, "eice"), "cannot record transcripts", "records nothing")
    assert missing(judges.cheapest_with_transcripts(priced, "ssm"), "leave out logs")
    assert missing(judges.cheapest_with_transcripts(priced, "cheap"), "not an option")


def test_conditions_as_iam_decides_them():
    request = {"ssm:resourceTag/ssmlab:lab": "demo", "aws:userid": "AROA1:alice"}
    assert conditions.matches({"StringEquals": {"SSM:ResourceTag/ssmlab:lab": "demo"}}, request)  # keys: any case
    assert not conditions.matches({"StringEquals": {"ssm:resourceTag/ssmlab:lab": "Demo"}}, request)
    assert conditions.matches({"StringEqualsIgnoreCase": {"ssm:resourceTag/ssmlab:lab": "Demo"}}, request)
    assert conditions.matches({"StringLike": {"ssm:resourceTag/ssmlab:lab": ["x", "de*"]}}, request)  # any value
    assert not conditions.matches({"StringEquals": {"aws:ResourceTag/team": "a"}}, request)  # absent key: false
    assert conditions.matches({"StringNotEquals": {"aws:ResourceTag/team": "a"}}, request)  # negated: true
    assert conditions.matches({"StringEqualsIfExists": {"aws:ResourceTag/team": "a"}}, request)
    assert conditions.matches({"Null": {"aws:ResourceTag/team": "true"}}, request)
    assert not conditions.matches({"StringEquals": {"ssm:resourceTag/ssmlab:lab": "demo"},
                                   "Null": {"aws:userid": "true"}}, request)  # every operator must hold
    assert conditions.matches({"StringEquals": {"aws:userid": "${aws:userid}"}}, request)  # a policy variable
    assert not conditions.matches({"StringEquals": {"aws:userid": "${aws:PrincipalTag/team}"}}, request)
    assert not conditions.matches({"NumericLessThan": {"aws:userid": "3"}}, request)  # unknown: never allows


def test_a_check_never_raises_and_hints_are_numbered():
    def broken(_):
        raise RuntimeError("the emulator is not running\nStart it with `ssmlab emulator start`")

    printed = []
    exercise = Exercise("99-test", "demo-hints", "a test", broken, ("first", "second"), {"group_id": "sg-1"})
    import ssmlab.exercises.exercise as module

    original = module._display
    module._display = lambda markup, text: printed.append(text)
    try:
        exercise.check()
        exercise.hint(2)
        exercise.hint(5)
    finally:
        module._display = original
    assert "the check could not finish: Start it with `ssmlab emulator start`" in printed[0] and "exercise.hint(1)" in printed[0]
    assert printed[1] == "Hint 2 of 2: second" and "has 2 hints" in printed[2]
    assert exercise.group_id == "sg-1" and unsolved("demo-hints") == [exercise]
    with pytest.raises(AttributeError, match="it gives group_id"):
        exercise.vpc_id
