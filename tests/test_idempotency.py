"""Retries that must not create twice, over real sockets, through a lossy network.

EC2's client tokens (Amazon EC2 Developer Guide, "Ensuring idempotency in Amazon EC2 API
requests"): an answer lost after the emulator acted is retried by botocore with the same
ClientToken, and the retry returns what the first request made. The lossy proxy
(`lossy_proxy.py`) loses the answers; the emulator's call log is not needed: resources
are counted by a unique tag or in a fresh VPC.

Also the IAM look-alikes that crashed a cleanup: ListInstanceProfiles honours PathPrefix,
and ListInstanceProfileTags answers.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError
from lossy_proxy import LossyProxy

from ssmlab.steps.instance import AL2023_PARAMETER

pytestmark = pytest.mark.emulator
REGION = "ap-northeast-1"
RETRYING = Config(retries={"mode": "standard", "max_attempts": 3})
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


def client(url: str, service: str = "ec2", region: str = REGION, config: Config = RETRYING):
    return boto3.client(service, region_name=region, endpoint_url=url, config=config,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def proxy(emulator):
    with LossyProxy(emulator.endpoint_url) as lossy:
        yield lossy


def image(url: str, region: str = REGION) -> str:
    return client(url, "ssm", region).get_parameter(Name=AL2023_PARAMETER)["Parameter"]["Value"]


def tagged(key: str, kind: str = "instance") -> list[dict]:
    return [{"ResourceType": kind, "Tags": [{"Key": "idempotency-test", "Value": key}]}]


def instances_tagged(ec2, key: str) -> list[dict]:
    found = ec2.describe_instances(Filters=[{"Name": "tag:idempotency-test", "Values": [key]}])
    return [i for r in found["Reservations"] for i in r["Instances"]]


def refused(call, **kwargs) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value


# -- lost answers, retried --------------------------------------------------------------------


def test_a_lost_run_instances_answer_is_retried_into_one_instance(emulator, proxy):
    ec2 = client(proxy.url)
    key = uuid.uuid4().hex
    proxy.drop("RunInstances")
    made = ec2.run_instances(ImageId=image(proxy.url), MinCount=1, MaxCount=1, TagSpecifications=tagged(key))
    assert made["ResponseMetadata"]["RetryAttempts"] == 1
    assert (proxy.seen["RunInstances"], proxy.dropped["RunInstances"]) == (2, 1)
    [instance] = instances_tagged(ec2, key)
    assert instance["InstanceId"] == made["Instances"][0]["InstanceId"]
    # botocore filled the token; DescribeInstances shows it, as on AWS
    assert instance["ClientToken"] == made["Instances"][0]["ClientToken"] != ""


def test_a_lost_create_vpc_endpoint_answer_with_a_client_token_is_one_endpoint(emulator, proxy):
    ec2 = client(proxy.url)
    vpc = ec2.create_vpc(CidrBlock="10.61.0.0/16")["Vpc"]["VpcId"]
    proxy.drop("CreateVpcEndpoint")
    made = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3",
                                   ClientToken=uuid.uuid4().hex)["VpcEndpoint"]
    assert proxy.dropped["CreateVpcEndpoint"] == 1
    found = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]
    assert [e["VpcEndpointId"] for e in found] == [made["VpcEndpointId"]]


def test_a_lost_create_route_table_answer_is_one_route_table(emulator, proxy):
    ec2 = client(proxy.url)
    vpc = ec2.create_vpc(CidrBlock="10.62.0.0/16")["Vpc"]["VpcId"]
    proxy.drop("CreateRouteTable")
    made = ec2.create_route_table(VpcId=vpc)["RouteTable"]  # botocore fills ClientToken
    assert proxy.dropped["CreateRouteTable"] == 1
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    extra = [t["RouteTableId"] for t in tables if not any(a.get("Main") for a in t.get("Associations", []))]
    assert extra == [made["RouteTableId"]]


def test_two_racing_requests_with_one_token_make_one_instance(emulator):
    ec2 = client(emulator.endpoint_url)
    key, token, ami = uuid.uuid4().hex, uuid.uuid4().hex, image(emulator.endpoint_url)
    start = threading.Barrier(4)
    made: list[str] = []

    def launch() -> None:
        start.wait()
        answer = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, ClientToken=token,
                                   TagSpecifications=tagged(key))
        made.append(answer["Instances"][0]["InstanceId"])

    threads = [threading.Thread(target=launch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(made) == 4 and len(set(made)) == 1
    assert [i["InstanceId"] for i in instances_tagged(ec2, key)] == made[:1]


# -- the token's rules ----------------------------------------------------------------------------


def test_the_token_actions_and_their_limits_come_from_botocores_model():
    from ssmlab.emulator.idempotency import token_actions

    actions = token_actions()
    assert {"RunInstances", "CreateRouteTable", "CreateNetworkAcl", "CreateNetworkInterface",
            "CreateInstanceConnectEndpoint", "CreateVpcEndpoint"} <= set(actions)
    assert not {"CreateVpc", "CreateSubnet", "CreateSecurityGroup"} & set(actions)
    assert (actions["RunInstances"], actions["CreateVpcEndpoint"]) == (64, 64)
    assert (actions["CopyImage"], actions["CreateLaunchTemplate"]) == (128, 128)  # as their documentation says


def test_the_same_token_with_other_parameters_is_a_mismatch(emulator):
    ec2 = client(emulator.endpoint_url)
    key, token, ami = uuid.uuid4().hex, uuid.uuid4().hex, image(emulator.endpoint_url)
    ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, ClientToken=token, TagSpecifications=tagged(key))
    error = refused(ec2.run_instances, ImageId=ami, MinCount=1, MaxCount=1, ClientToken=token,
                    TagSpecifications=tagged(key), InstanceType="t3.large")
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error.response["Error"] == {
        "Code": "IdempotentParameterMismatch",
        "Message": "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).",
    }
    assert len(instances_tagged(ec2, key)) == 1


def test_the_same_token_in_another_region_launches_another_instance(emulator):
    key, token = uuid.uuid4().hex, uuid.uuid4().hex
    ids = []
    for region in (REGION, "us-east-1"):
        ec2 = client(emulator.endpoint_url, region=region)
        request = dict(ImageId=image(emulator.endpoint_url, region), MinCount=1, MaxCount=1, ClientToken=token,
                       TagSpecifications=tagged(key))
        made = {ec2.run_instances(**request)["Instances"][0]["InstanceId"] for _ in range(2)}
        assert [i["InstanceId"] for i in instances_tagged(ec2, key)] == list(made)  # one per region
        ids.extend(made)
    assert len(set(ids)) == 2


def test_a_repeat_after_termination_answers_the_same_instance_in_its_state_now(emulator):
    ec2 = client(emulator.endpoint_url)
    key, token, ami = uuid.uuid4().hex, uuid.uuid4().hex, image(emulator.endpoint_url)
    first = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, ClientToken=token, TagSpecifications=tagged(key))
    instance_id = first["Instances"][0]["InstanceId"]
    ec2.terminate_instances(InstanceIds=[instance_id])
    again = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, ClientToken=token, TagSpecifications=tagged(key))
    [instance] = again["Instances"]
    assert instance["InstanceId"] == instance_id
    assert again["ReservationId"] == first["ReservationId"]
    assert instance["State"]["Name"] in ("shutting-down", "terminated")
    assert again["ResponseMetadata"]["RequestId"] != first["ResponseMetadata"]["RequestId"]
    assert len(instances_tagged(ec2, key)) == 1


def test_a_token_longer_than_64_characters_is_refused_and_creates_nothing(emulator):
    ec2 = client(emulator.endpoint_url)
    key, ami = uuid.uuid4().hex, image(emulator.endpoint_url)
    error = refused(ec2.run_instances, ImageId=ami, MinCount=1, MaxCount=1, ClientToken="t" * 65,
                    TagSpecifications=tagged(key))
    assert error.response["Error"]["Code"] == "InvalidParameterValue"
    assert instances_tagged(ec2, key) == []
    ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, ClientToken="t" * 63 + key[:1], TagSpecifications=tagged(key))
    assert len(instances_tagged(ec2, key)) == 1


def test_failed_and_faulted_first_requests_leave_the_token_free(emulator):
    ec2 = client(emulator.endpoint_url, config=NO_RETRIES)
    key, token, ami = uuid.uuid4().hex, uuid.uuid4().hex, image(emulator.endpoint_url)
    refused(ec2.run_instances, ImageId="ami-00000000", MinCount=1, MaxCount=1, ClientToken=token)
    faults(emulator, {"rate": 1, "seed": 1, "kinds": ["unavailable"], "actions": ["RunInstances"]})
    try:
        assert refused(ec2.run_instances, ImageId=ami, MinCount=1, MaxCount=1, ClientToken=token,
                       InstanceType="t3.nano").response["Error"]["Code"] == "Unavailable"
    finally:
        faults(emulator, None)
    # neither the failure nor the fault was remembered: other parameters are no mismatch
    first = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, ClientToken=token, TagSpecifications=tagged(key))
    again = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, ClientToken=token, TagSpecifications=tagged(key))
    assert again["Instances"][0]["InstanceId"] == first["Instances"][0]["InstanceId"]
    assert len(instances_tagged(ec2, key)) == 1


def faults(emulator, config: dict | None) -> None:
    request = urllib.request.Request(emulator.endpoint_url + "/ssmlab/faults", method="PUT" if config else "DELETE",
                                     data=json.dumps(config).encode() if config else None)
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10) as answer:
        assert answer.status == 200


# -- IAM look-alikes ------------------------------------------------------------------------------


def test_list_instance_profiles_honours_path_prefix_and_leaves_tags_out(emulator):
    iam = client(emulator.endpoint_url, "iam")
    lab = f"victim{uuid.uuid4().hex[:8]}"
    iam.create_instance_profile(InstanceProfileName=f"{lab}-ssm-instance-profile", Path="/ssmlab/",
                                Tags=[{"Key": "ssmlab:lab", "Value": lab}])
    iam.create_instance_profile(InstanceProfileName=f"{lab}-ssm-instance-profile-mine", Path="/")
    listed = iam.list_instance_profiles(PathPrefix="/ssmlab/")["InstanceProfiles"]
    names = [p["InstanceProfileName"] for p in listed]
    assert f"{lab}-ssm-instance-profile" in names and f"{lab}-ssm-instance-profile-mine" not in names
    assert all(p["Path"].startswith("/ssmlab/") and "Tags" not in p for p in listed)
    everything = [p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]]
    assert f"{lab}-ssm-instance-profile-mine" in everything
    page = iam.list_instance_profiles(MaxItems=1)
    assert len(page["InstanceProfiles"]) == 1 and page["IsTruncated"] and page["Marker"]


def test_list_instance_profile_tags_returns_the_tags_sorted_by_key(emulator):
    iam = client(emulator.endpoint_url, "iam")
    name = f"tags-{uuid.uuid4().hex[:8]}"
    created = iam.create_instance_profile(InstanceProfileName=name, Path="/ssmlab/",
                                          Tags=[{"Key": "ssmlab:lab", "Value": "victim"}, {"Key": "Name", "Value": name}])
    assert {t["Key"] for t in created["InstanceProfile"]["Tags"]} == {"ssmlab:lab", "Name"}
    assert iam.list_instance_profile_tags(InstanceProfileName=name)["Tags"] == [
        {"Key": "Name", "Value": name}, {"Key": "ssmlab:lab", "Value": "victim"}]
    iam.tag_instance_profile(InstanceProfileName=name, Tags=[{"Key": "course", "Value": "ssm"}])
    iam.untag_instance_profile(InstanceProfileName=name, TagKeys=["Name"])
    assert iam.list_instance_profile_tags(InstanceProfileName=name)["Tags"] == [
        {"Key": "course", "Value": "ssm"}, {"Key": "ssmlab:lab", "Value": "victim"}]
    got = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Tags"]
    assert sorted(got, key=lambda t: t["Key"]) == [{"Key": "course", "Value": "ssm"}, {"Key": "ssmlab:lab", "Value": "victim"}]
    error = refused(iam.list_instance_profile_tags, InstanceProfileName=f"{name}-none")
    assert (error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]) == ("NoSuchEntity", 404)


# -- the proxy itself -----------------------------------------------------------------------------


def test_the_proxy_counts_a_dropped_answer_and_closes_the_connection(emulator, proxy):
    ec2 = client(proxy.url, config=NO_RETRIES)
    proxy.drop("DescribeVpcs")
    with pytest.raises(ConnectionClosedError):
        ec2.describe_vpcs()
    assert ec2.describe_vpcs()["Vpcs"]  # once only
    assert (proxy.seen["DescribeVpcs"], proxy.dropped["DescribeVpcs"]) == (2, 1)


def test_the_proxy_holds_a_delayed_answer_and_keeps_connections_alive(emulator, proxy):
    ec2 = client(proxy.url)
    proxy.delay("DescribeSubnets", 0.3)
    started = time.monotonic()
    ec2.describe_subnets()
    assert time.monotonic() - started >= 0.3
    ec2.describe_vpcs()
    assert proxy.held == {"DescribeSubnets": 1}  # the other action's answer was not held (counted, not timed)
    host, port = proxy.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    for _ in range(2):  # two answers on one connection; /ssmlab/ routes are not counted
        connection.request("GET", "/ssmlab/health")
        assert json.loads(connection.getresponse().read())["ok"]
    connection.close()
    assert set(proxy.seen) == {"DescribeSubnets", "DescribeVpcs"}
