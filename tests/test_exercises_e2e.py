"""The exercises against the emulator over its real API: each that acts prepares the lab, and its check refuses the
lab as prepared and a wrong answer — saying what is missing and where the hints are — then accepts the right one;
each question refuses a wrong answer, saying what that answer is instead; the lab's cleanup then removes what an
exercise made (the operator role)."""

from __future__ import annotations

import json

import pytest

from ssmlab import cost, exercises, inventory, teardown
from ssmlab.build import BuildOptions, build
from ssmlab.emulator import control
from ssmlab.emulator.agent import AGENT_START_DELAY
from ssmlab.lab import Lab
from ssmlab.prices import PriceBook
from ssmlab.steps import private_host

pytestmark = pytest.mark.emulator
REGION = "sa-east-1"  # no other emulator test builds here


def checked(exercise, capsys, answer=exercises.exercise.NO_ANSWER) -> tuple[bool, str]:
    capsys.readouterr()
    exercise.check(answer)
    shown = capsys.readouterr().out
    return exercise.verdict.solved, shown


def refused(exercise, capsys, *words, answer=exercises.exercise.NO_ANSWER) -> None:
    solved, shown = checked(exercise, capsys, answer)
    assert not solved and "not yet" in shown and "exercise.hint(1)" in shown, shown
    assert all(word in shown for word in words), shown


def test_each_exercise_refuses_the_prepared_lab_and_a_wrong_answer_then_accepts_the_right_one(emulator, capsys):
    lab = Lab("ex-e2e", REGION, "emulator")
    results = build(lab, BuildOptions()).results
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    instance_id = results["instance"].instance_id
    ec2, iam = lab.client("ec2"), lab.client("iam")

    exercise = exercises.dns_hostnames(lab)
    refused(exercise, capsys, "enableDnsHostnames is still off")
    ec2.modify_vpc_attribute(VpcId=exercise.vpc_id, EnableDnsSupport={"Value": True})  # the other attribute
    refused(exercise, capsys, "enableDnsHostnames is still off")
    ec2.modify_vpc_attribute(VpcId=exercise.vpc_id, EnableDnsHostnames={"Value": True})
    assert checked(exercise, capsys)[0]

    exercise = exercises.endpoint_ingress(lab)
    refused(exercise, capsys, "does not admit the agent yet")
    https_from = lambda **peer: [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, **peer}]  # noqa: E731
    ec2.authorize_security_group_ingress(GroupId=exercise.group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": exercise.vpc_cidr}]}])
    refused(exercise, capsys, "tcp 80 from")
    ec2.authorize_security_group_ingress(GroupId=exercise.group_id, IpPermissions=https_from(
        UserIdGroupPairs=[{"GroupId": results["security-groups"].instance_sg_id}]))
    assert checked(exercise, capsys)[0]
    again = exercises.endpoint_ingress(lab)  # prepared again: reset, nothing in
    assert again.group_id == exercise.group_id and exercises.unsolved(lab.name) == [again]
    exercise = again
    refused(exercise, capsys, "does not admit the agent yet")
    ec2.authorize_security_group_ingress(GroupId=exercise.group_id, IpPermissions=https_from(
        IpRanges=[{"CidrIp": exercise.vpc_cidr}]))
    assert checked(exercise, capsys)[0]

    exercise = exercises.ssmmessages_endpoint(lab)
    refused(exercise, capsys, "no ssmmessages endpoint")
    request = dict(VpcEndpointType="Interface", VpcId=exercise.vpc_id, ServiceName=exercise.service_name,
                   SubnetIds=exercise.subnet_ids, SecurityGroupIds=[exercise.security_group_id])
    untagged = ec2.create_vpc_endpoint(**request, PrivateDnsEnabled=False)["VpcEndpoint"]["VpcEndpointId"]
    refused(exercise, capsys, "private DNS is off", "lacks the lab's tag")
    ec2.delete_vpc_endpoints(VpcEndpointIds=[untagged])
    ec2.create_vpc_endpoint(**request, PrivateDnsEnabled=True, TagSpecifications=exercise.tag_specifications)
    assert checked(exercise, capsys)[0]

    exercise = exercises.session_policy(lab)
    refused(exercise, capsys, "no policy yet")
    put = lambda *statements: iam.put_role_policy(  # noqa: E731
        RoleName=exercise.role_name, PolicyName="start-sessions",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
    put({"Effect": "Allow", "Action": "ssm:StartSession", "Resource": "*"})
    refused(exercise, capsys, "<another lab> are allowed too")
    put({"Effect": "Allow", "Action": "ssm:StartSession", "Resource": f"arn:aws:ec2:{REGION}:{exercise.account}:instance/*",
         "Condition": {"StringEquals": {"ssm:resourceTag/ssmlab:lab": exercise.lab_name}}},
        {"Effect": "Allow", "Action": "ssm:StartSession",
         "Resource": f"arn:aws:ssm:{REGION}:{exercise.account}:document/SSM-SessionManagerRunShell"})
    solved, shown = checked(exercise, capsys)
    assert solved and "end their own sessions" in shown  # solved, with a note

    exercise = exercises.imds_v2(lab, instance_id)
    refused(exercise, capsys, "HttpTokens is still optional")
    ec2.modify_instance_metadata_options(InstanceId=instance_id, HttpTokens="required")
    assert checked(exercise, capsys)[0]

    # The questions: a wrong answer is refused with what it is instead, and the hint line.
    exercise = exercises.endpoint_address(lab, instance_id)
    refused(exercise, capsys, "the VPC's DNS resolver", answer="10.0.0.2")
    state = inventory.snapshot(lab)
    ssm = state.endpoints_for("ssm")[0]
    address = next(e.private_ip for e in state.network_interfaces if e.eni_id in ssm.network_interface_ids)
    assert checked(exercise, capsys, address)[0]
    refused(exercises.transcript_endpoint(lab), capsys, "registration and health reports", answer=ssm.endpoint_id)
    refused(exercises.doctor_prediction(lab, instance_id, "nothing"), capsys, "did not report ENDPOINT_MISSING",
            "no error", answer="ENDPOINT_MISSING")
    priced_region = Lab(lab.name, "ap-northeast-1", "emulator")  # 10 prices a region; sa-east-1's figures are unverified
    exercise = exercises.cheapest_with_transcripts(priced_region, PriceBook.offline())
    refused(exercise, capsys, "cannot record transcripts", answer="eice")
    priced = cost.estimate(PriceBook.offline(), exercise.scenario)
    best = min((o for o in priced.options if o.key == "nat" or "logs" in o.endpoints), key=lambda o: o.total)
    assert checked(exercise, capsys, best.key)[0]

    database = private_host.ensure(lab)
    private_host.allow_instance_egress(lab, database)
    exercise = exercises.database_egress(lab, instance_id, database)  # the rule the kit would add: revoked
    refused(exercise, capsys, "instance-sg-egress")
    ec2.authorize_security_group_egress(GroupId=exercise.group_id, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 5433, "ToPort": 5433, "UserIdGroupPairs": [{"GroupId": exercise.database_group_id}]}])
    refused(exercise, capsys, "tcp 5432")
    ec2.authorize_security_group_egress(GroupId=exercise.group_id, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": exercise.database_group_id}]}])
    assert checked(exercise, capsys)[0]
    assert [e.key for e in exercises.unsolved(lab.name)] == ["07-transcript-endpoint", "09-doctor-prediction"]  # refused above

    teardown.cleanup(lab, yes=True, say=lambda line: None)
    assert inventory.role(lab, f"{lab.name}-operator") is None  # the exercise's role went with the lab
