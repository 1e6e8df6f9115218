"""The emulator's call log, over HTTP against the session's emulator process.

Every test works with labs of its own name and reads the log filtered by lab or by time,
so it never depends on what other tests have called.
"""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.exceptions import ClientError

from ssmlab.build import build
from ssmlab.emulator import calllog, control
from ssmlab.emulator.agent import AGENT_START_DELAY
from ssmlab.emulator.wsgi import LAB_ENVIRON, REQUEST_KEY
from ssmlab.lab import TAG_KEY, Lab

pytestmark = pytest.mark.emulator
REGION = "ap-northeast-1"


def plain(emulator, service: str):
    """A boto3 client as a learner's own script makes it: no ssmlab header."""
    return boto3.client(service, region_name=REGION, endpoint_url=emulator.endpoint_url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def get(emulator, path: str) -> tuple[int, dict]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(emulator.endpoint_url + path, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def summary(entries: list[dict]) -> list[tuple]:
    return [(e["service"], e["action"], e["status"], e["error"]) for e in entries]


def test_a_script_is_logged_call_by_call_with_its_lab(emulator):
    lab = Lab("cl-script", REGION, "emulator")
    began = datetime.now(timezone.utc)
    ec2, iam, ssm, s3, logs = (lab.client(s) for s in ("ec2", "iam", "ssm", "s3", "logs"))
    vpc = ec2.create_vpc(CidrBlock="10.61.0.0/16")["Vpc"]["VpcId"]
    ec2.describe_vpcs(VpcIds=[vpc])
    with pytest.raises(ClientError):
        ec2.describe_vpcs(VpcIds=["vpc-0123456789abcdef0"])
    iam.create_role(RoleName="cl-script-role", AssumeRolePolicyDocument="{}")
    with pytest.raises(ClientError):
        iam.get_role(RoleName="cl-script-missing")
    ssm.put_parameter(Name="/cl-script/p", Value="v", Type="String")
    with pytest.raises(ClientError):
        ssm.get_parameter(Name="/cl-script/missing")
    s3.create_bucket(Bucket="cl-script-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="cl-script-bucket", Key="k", Body=b"x" * 100_000)
    assert s3.get_object(Bucket="cl-script-bucket", Key="k")["Body"].read() == b"x" * 100_000
    logs.create_log_group(logGroupName="/cl-script/g")
    with pytest.raises(ClientError):  # moto does not implement it: ssmlab's NotImplemented answer
        logs.delete_log_anomaly_detector(anomalyDetectorArn=f"arn:aws:logs:{REGION}:123456789012:anomaly-detector:x")
    control.agents(lab)  # an /ssmlab route: not an AWS call

    log = control.calls(lab)
    assert summary(log["calls"]) == [
        ("ec2", "CreateVpc", 200, None),
        ("ec2", "DescribeVpcs", 200, None),
        ("ec2", "DescribeVpcs", 400, "InvalidVpcID.NotFound"),
        ("iam", "CreateRole", 200, None),
        ("iam", "GetRole", 404, "NoSuchEntity"),
        ("ssm", "PutParameter", 200, None),
        ("ssm", "GetParameter", 400, "ParameterNotFound"),
        ("s3", "CreateBucket", 200, None),
        ("s3", "PutObject", 200, None),
        ("s3", "GetObject", 200, None),
        ("logs", "CreateLogGroup", 200, None),
        ("logs", "DeleteLogAnomalyDetector", 501, "NotImplemented"),
    ]
    assert log["count"] == 12 and log["capacity"] == calllog.CAPACITY and isinstance(log["dropped"], int)
    for entry in log["calls"]:
        assert entry["lab"] == "cl-script" and entry["region"] == REGION and entry["fault"] is False
        assert entry["attempt"] == 1 and entry["ms"] >= 0
        assert began - timedelta(seconds=1) <= datetime.fromisoformat(entry["time"]) <= datetime.now(timezone.utc)
    times = [entry["time"] for entry in log["calls"]]
    assert times == sorted(times)


def test_a_plain_boto3_caller_is_known_by_the_lab_tag_it_sets(emulator):
    since = datetime.now(timezone.utc)
    tag = [{"Key": TAG_KEY, "Value": "cl-tagged"}]
    plain(emulator, "ec2").create_vpc(CidrBlock="10.62.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": tag}])
    plain(emulator, "iam").create_role(RoleName="cl-tagged-role", AssumeRolePolicyDocument="{}", Tags=tag)
    plain(emulator, "ssm").put_parameter(Name="/cl-tagged/p", Value="v", Type="String", Tags=tag)
    plain(emulator, "logs").create_log_group(logGroupName="/cl-tagged/g", tags={TAG_KEY: "cl-tagged"})
    s3 = plain(emulator, "s3")
    s3.create_bucket(Bucket="cl-tagged-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_tagging(Bucket="cl-tagged-bucket", Tagging={"TagSet": tag})
    s3.put_object(Bucket="cl-tagged-bucket", Key="k", Body=b"x", Tagging=f"{TAG_KEY}=cl-tagged")
    plain(emulator, "ec2").describe_vpcs()

    entries = control.calls(Lab("cl-tagged", REGION, "emulator"), all_labs=True, since=since)["calls"]
    assert [(e["action"], e["lab"]) for e in entries] == [
        ("CreateVpc", "cl-tagged"), ("CreateRole", "cl-tagged"), ("PutParameter", "cl-tagged"),
        ("CreateLogGroup", "cl-tagged"), ("CreateBucket", None), ("PutBucketTagging", "cl-tagged"),
        ("PutObject", "cl-tagged"), ("DescribeVpcs", None)]


def test_filters_and_clear(emulator):
    lab, other = Lab("cl-filter", REGION, "emulator"), Lab("cl-filter-b", REGION, "emulator")
    control.clear_calls(lab)
    lab.client("ec2").describe_vpcs()
    lab.client("iam").list_roles()
    time.sleep(0.01)
    middle = datetime.now(timezone.utc)
    lab.client("ec2").describe_subnets()
    lab.client("ec2").describe_vpcs()
    other.client("ec2").describe_vpcs()

    def actions(**filters):
        return [e["action"] for e in control.calls(lab, **filters)["calls"]]

    assert actions() == ["DescribeVpcs", "ListRoles", "DescribeSubnets", "DescribeVpcs"]
    assert actions(service="ec2") == ["DescribeVpcs", "DescribeSubnets", "DescribeVpcs"]
    assert actions(action="DescribeVpcs") == ["DescribeVpcs", "DescribeVpcs"]
    assert actions(since=middle) == ["DescribeSubnets", "DescribeVpcs"]
    assert actions(since=middle.isoformat().replace("+00:00", "Z")) == ["DescribeSubnets", "DescribeVpcs"]
    assert actions(service="iam", action="ListRoles", fault=False) == ["ListRoles"]
    assert actions(fault=True) == []
    both = control.calls(lab, all_labs=True, action="DescribeVpcs", since=middle)["calls"]
    assert [e["lab"] for e in both] == ["cl-filter", "cl-filter-b"]

    for query, message in (("?since=yesterday", "invalid since 'yesterday'"), ("?labs=x", "unknown filter 'labs'"),
                           ("?fault=maybe", "invalid fault 'maybe'")):
        code, body = get(emulator, "/ssmlab/calls" + query)
        assert code == 400 and message in body["error"]

    assert control.clear_calls(lab) == {"cleared": 4}
    assert control.calls(lab)["calls"] == []
    assert control.calls(other)["count"] == 1  # another lab's calls are kept


def test_clearing_everything(emulator):
    lab = Lab("cl-all", REGION, "emulator")
    lab.client("ec2").describe_vpcs()
    cleared = control.clear_calls(lab, all_labs=True)["cleared"]
    assert cleared >= 1
    log = control.calls(lab, all_labs=True)
    assert (log["count"], log["dropped"]) == (0, 0)


def test_the_agents_own_requests_are_not_logged(emulator):
    lab = Lab("cl-agents", REGION, "emulator")
    result = build(lab, until="instance")
    instance_id = result.results["instance"].instance_id
    built = control.calls(lab)["calls"]
    mine = len(control.calls(lab, all_labs=True, action="DescribeInstances")["calls"])

    before = datetime.now(timezone.utc)
    control.advance_clock(lab, AGENT_START_DELAY + 60)  # the agent boots, reads the lab back, registers
    agent = control.agents(lab, instance_id)
    assert agent["agents"][0]["ping_status"] == "Online"
    assert any(e["step"] == "register" and e["outcome"] == "ok" for e in agent["log"])
    assert control.calls(lab, all_labs=True, since=before)["calls"] == []  # its many reads: none logged
    assert control.calls(lab, all_labs=True, action="DescribeInstances")["count"] == mine
    assert not [e for e in control.calls(lab, all_labs=True)["calls"] if e["lab"] == "emulator-agent"]
    assert built and all(e["lab"] == "cl-agents" for e in built)

    # A call whose handler reads the emulator back itself: only the learner's call is logged.
    lab.client("ssm").describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [instance_id]}])
    assert summary(control.calls(lab, all_labs=True, since=before)["calls"]) == [
        ("ssm", "DescribeInstanceInformation", 200, None)]


# -- in this process: memory is bounded ------------------------------------------------------

class _Request:
    service, action, region, protocol, params, body = "ec2", "DescribeVpcs", REGION, "ec2", {}, b""
    headers: dict = {}


def test_the_log_keeps_the_newest_entries_and_counts_the_dropped():
    log = calllog.CallLog(capacity=3)

    def ok(environ, start_response):
        start_response("200 OK", [])
        return [b"<ok/>"]

    for n in range(5):
        environ = {REQUEST_KEY: _Request(), LAB_ENVIRON: f"lab-{n}", "wsgi.input": io.BytesIO()}
        assert list(log.record(environ, lambda *a: None, ok)) == [b"<ok/>"]
    state = log.to_json()
    assert (state["count"], state["dropped"], state["capacity"]) == (3, 2, 3)
    assert [e["lab"] for e in state["calls"]] == ["lab-2", "lab-3", "lab-4"]


def test_error_codes_are_read_as_botocore_reads_them():
    assert calllog.error_code([("x-amzn-ErrorType", "ThrottlingException:http://internal")], b"") == "ThrottlingException"
    assert calllog.error_code([], b'{"__type": "com.amazonaws.ssm#ParameterNotFound", "message": "x"}') == "ParameterNotFound"
    assert calllog.error_code([], b"<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code>") == "InvalidVpcID.NotFound"
    assert calllog.error_code([], b"") is None


def test_the_emulators_own_warm_up_is_not_in_the_call_log(emulator):
    from ssmlab.emulator import control
    from ssmlab.lab import Lab

    logged = control.calls(Lab("emulator-agent", "ap-northeast-1", "emulator"))
    assert logged["calls"] == []


@pytest.mark.parametrize("action, read", [
    ("DescribeVpcs", True), ("GetRole", True), ("ListAttachedRolePolicies", True),
    ("SimulatePrincipalPolicy", True), ("CreateVpc", False), ("AuthorizeSecurityGroupIngress", False),
    ("StartSession", False), (None, False),
])
def test_requests_that_may_change_state_are_told_from_reads(action, read):
    from ssmlab.emulator.app import is_read
    from ssmlab.emulator.protocol import AwsRequest

    request = AwsRequest("ec2", action, "us-east-1", "123456789012", "ec2", {}, b"", {})
    assert is_read(request) is read
    assert is_read(None) is False
