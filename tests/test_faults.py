"""Fault injection, over HTTP against an emulator process of this module's own.

The emulator is started the way a learner would (`ssmlab emulator start --fault-rate ...`)
in a temporary state directory, so the faults never reach the session's shared emulator.
Each test sets the faults it needs through /ssmlab/faults (a PUT restarts the generator
from its seed) and leaves them off.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import ssmlab.emulator as emulator
from ssmlab.build import BuildOptions, build
from ssmlab.emulator import control
from ssmlab.emulator.faults import KINDS, FaultConfig, add_arguments, from_args, from_environ
from ssmlab.errors import BadInput
from ssmlab.lab import TAG_KEY, Lab

from conftest import SSMLAB

pytestmark = pytest.mark.emulator
REGION = "ap-northeast-1"
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})
# botocore's client `max_attempts` counts the retries, not the attempts (botocore/args.py
# _compute_retry_max_attempts: total_max_attempts = max_attempts + 1).


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """This module's emulator, started by the CLI with 10% throttling (seed 7)."""
    directory = tmp_path_factory.mktemp("faults-state")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SSMLAB_"))}
    env["SSMLAB_STATE_DIR"] = str(directory)
    started = subprocess.run([SSMLAB, "emulator", "start", "--fault-rate", "0.1", "--fault-seed", "7"],
                             env=env, capture_output=True, text=True, timeout=60)
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip().endswith(
        "; injecting throttle errors into 10% of requests (every AWS action, seed 7)"), started.stdout
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith(("AWS_", "SSMLAB_"))]:
            patch.delenv(key)
        patch.setenv("SSMLAB_STATE_DIR", str(directory))
        status = emulator.status()
        assert status.running
        try:
            yield status, directory
        finally:
            emulator.stop()


@pytest.fixture
def url(served):
    """The module emulator's URL, its call log empty; its faults are off again after each test."""
    request(served[0].endpoint_url, "DELETE", "/ssmlab/calls")
    yield served[0].endpoint_url
    request(served[0].endpoint_url, "DELETE", "/ssmlab/faults")


def request(url: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with opener.open(req, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def put_faults(url: str, **config) -> dict:
    status, body = request(url, "PUT", "/ssmlab/faults", config)
    assert status == 200, body
    return body


def calls(url: str, **filters) -> list[dict]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    status, body = request(url, "GET", f"/ssmlab/calls?{query}")
    assert status == 200, body
    return body["calls"]


def client(url: str, service: str, config: Config = NO_RETRIES):
    return boto3.client(service, region_name=REGION, endpoint_url=url, aws_access_key_id="testing",
                        aws_secret_access_key="testing", config=config)


# -- configured at start -------------------------------------------------------------------

def test_start_options_reach_the_emulator_process(served):
    status, directory = served
    code, faults = request(status.endpoint_url, "GET", "/ssmlab/faults")
    assert code == 200
    assert faults == {"rate": 0.1, "seed": 7, "kinds": ["throttle"], "actions": None, "injected": 0}
    log = (directory / "emulator.log").read_text()
    assert "serve --port 0 --log-file" in log and "--fault-rate 0.1 --fault-kind throttle --fault-seed 7" in log


def test_start_on_a_running_emulator_replaces_its_faults(url, served):
    again = emulator.start(faults={"rate": 0.5, "seed": 3, "kinds": "both", "actions": ["CreateVpc"]})
    assert again.pid == served[0].pid
    assert request(url, "GET", "/ssmlab/faults")[1] == {
        "rate": 0.5, "seed": 3, "kinds": ["throttle", "unavailable"], "actions": ["CreateVpc"], "injected": 0}
    with pytest.raises(BadInput, match="invalid rate 2"):
        emulator.start(faults={"rate": 2})


def test_bad_fault_options_are_refused_by_the_cli(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SSMLAB_"))}
    env["SSMLAB_STATE_DIR"] = str(tmp_path)
    for args, message in ((["--fault-rate", "1.5"], "invalid fault rate '1.5'"),
                          (["--fault-seed", "3"], "need --fault-rate"),
                          (["--fault-rate", "0.1", "--fault-kind", "slow"], "invalid choice: 'slow'")):
        done = subprocess.run([SSMLAB, "emulator", "start", *args], env=env, capture_output=True, text=True,
                              timeout=30)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
    assert not (tmp_path / "emulator.json").exists()  # nothing was started


def test_settings_round_trip_through_the_child_command_line_and_the_environment(monkeypatch):
    config = FaultConfig(0.25, 9, KINDS, ("CreateVpc", "iam:CreateRole"))
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert from_args(parser.parse_args(config.to_argv())) == config
    assert from_args(parser.parse_args([])) is None
    assert FaultConfig.from_json({**config.to_json(), "injected": 4}) == config  # a GET can be PUT back
    monkeypatch.setenv("SSMLAB_FAULTS", json.dumps({"rate": 0.1, "kinds": "unavailable", "actions": "A,B"}))
    assert from_environ() == FaultConfig(0.1, None, ("unavailable",), ("A", "B"))
    monkeypatch.setenv("SSMLAB_FAULTS", "rate=0.1")
    with pytest.raises(ValueError, match=r"invalid \$SSMLAB_FAULTS 'rate=0.1'"):
        from_environ()
    monkeypatch.delenv("SSMLAB_FAULTS")
    assert from_environ() is None


# -- AWS's error for each protocol, and nothing created ----------------------------------------

CASES = {
    # service: (operation, params, throttle answer, unavailable answer, read back -> exists?)
    "ec2": ("create_vpc", {"CidrBlock": "10.77.0.0/16"}, (503, "RequestLimitExceeded"), (503, "Unavailable"),
            lambda c: bool(c.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.77.0.0/16"]}])["Vpcs"])),
    "iam": ("create_role", {"RoleName": "faulted-role", "AssumeRolePolicyDocument": "{}"},
            (400, "Throttling"), (503, "ServiceUnavailable"),
            lambda c: any(r["RoleName"] == "faulted-role" for r in c.list_roles()["Roles"])),
    "ssm": ("put_parameter", {"Name": "/faulted/p", "Value": "v", "Type": "String"},
            (400, "ThrottlingException"), (503, "ServiceUnavailable"),
            lambda c: bool(c.get_parameters(Names=["/faulted/p"])["Parameters"])),
    "logs": ("create_log_group", {"logGroupName": "/faulted/g"}, (400, "ThrottlingException"),
             (503, "ServiceUnavailable"),
             lambda c: bool(c.describe_log_groups(logGroupNamePrefix="/faulted/")["logGroups"])),
    "s3": ("create_bucket", {"Bucket": "faulted-bucket",
                             "CreateBucketConfiguration": {"LocationConstraint": REGION}},
           (503, "SlowDown"), (503, "ServiceUnavailable"),
           lambda c: any(b["Name"] == "faulted-bucket" for b in c.list_buckets()["Buckets"])),
    "lambda": ("list_functions", {}, (429, "TooManyRequestsException"), (503, "ServiceUnavailable"), None),
}
ACTIONS = {"ec2": "CreateVpc", "iam": "CreateRole", "ssm": "PutParameter", "logs": "CreateLogGroup",
           "s3": "CreateBucket", "lambda": "ListFunctions"}


@pytest.mark.parametrize("kind", ["throttle", "unavailable"])
@pytest.mark.parametrize("service", list(CASES))
def test_a_faulted_action_fails_with_aws_error_and_creates_nothing(url, service, kind):
    operation, params, throttle, unavailable, exists = CASES[service]
    put_faults(url, rate=1.0, seed=1, kinds=[kind], actions=[ACTIONS[service]])
    c = client(url, service)
    with pytest.raises(ClientError) as caught:
        getattr(c, operation)(**params)
    status, code = throttle if kind == "throttle" else unavailable
    error = caught.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (status, code)
    if exists is not None:
        assert not exists(c)  # the read-back is another action: served, and nothing is there
    assert request(url, "GET", "/ssmlab/faults")[1]["injected"] == 1
    [entry] = calls(url, action=ACTIONS[service], service=service, fault="true")
    assert (entry["status"], entry["error"], entry["attempt"]) == (status, code, 1)


@pytest.mark.parametrize("service", list(CASES))
def test_botocore_retries_every_injected_error(url, service):
    """Each answer is one botocore's standard retry mode retries: all 3 attempts are made."""
    operation, params, *_ = CASES[service]
    put_faults(url, rate=1.0, seed=1, kinds="both", actions=[f"{service}:{ACTIONS[service]}"])
    c = client(url, service, Config(retries={"mode": "standard", "total_max_attempts": 3}))
    c.meta.events.register("before-sign", lambda request, **_: request.headers.__setitem__("X-Ssmlab-Lab", "retried"))
    with pytest.raises(ClientError) as caught:
        getattr(c, operation)(**params)
    assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    entries = calls(url, lab="retried", action=ACTIONS[service])
    assert [(e["attempt"], e["fault"]) for e in entries] == [(1, True), (2, True), (3, True)]


# -- the generator, and run-time settings ------------------------------------------------------

def outcomes(url: str, n: int) -> list[bool]:
    ec2 = client(url, "ec2")
    seen = []
    for _ in range(n):
        try:
            ec2.describe_availability_zones()
            seen.append(False)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "RequestLimitExceeded"
            seen.append(True)
    return seen


def test_a_seed_gives_the_same_faults_for_the_same_requests(url):
    put_faults(url, rate=0.5, seed=11, actions=["DescribeAvailabilityZones"])
    first = outcomes(url, 24)
    put_faults(url, rate=0.5, seed=11, actions=["DescribeAvailabilityZones"])
    assert outcomes(url, 24) == first
    model = random.Random(11)
    assert first == [model.random() < 0.5 for _ in range(24)]  # one draw per eligible request
    assert 0 < sum(first) < 24
    assert request(url, "GET", "/ssmlab/faults")[1]["injected"] == sum(first)
    put_faults(url, rate=0.5, seed=12, actions=["DescribeAvailabilityZones"])
    assert outcomes(url, 24) != first


def test_faults_are_set_and_cleared_at_run_time(url):
    lab = Lab("faults-ctl", REGION, "emulator")
    assert control.set_faults(lab, rate=1, kinds=("unavailable",), actions=("DescribeVpcs",)) == {
        "rate": 1.0, "seed": control.faults(lab)["seed"], "kinds": ["unavailable"],
        "actions": ["DescribeVpcs"], "injected": 0}
    assert isinstance(control.faults(lab)["seed"], int)  # chosen, and reported so a run can be repeated
    ec2 = client(url, "ec2")
    with pytest.raises(ClientError, match="Unavailable"):
        ec2.describe_vpcs()
    ec2.describe_subnets()  # another action: served
    assert control.faults(lab)["injected"] == 1

    code, body = request(url, "DELETE", "/ssmlab/faults")
    assert code == 200 and body == {"rate": 0.0, "seed": None, "kinds": ["throttle"], "actions": None, "injected": 0}
    ec2.describe_vpcs()

    for bad, message in (({"rate": -1}, "invalid rate -1"), ({"rate": 0.1, "kinds": ["slow"]}, "invalid kinds"),
                         ({"rate": 0.1, "seed": "x"}, "invalid seed 'x'"), ({"rates": 1}, "unknown field(s) rates"),
                         ({"rate": 0.1, "actions": [""]}, "invalid actions")):
        code, body = request(url, "PUT", "/ssmlab/faults", bad)
        assert code == 400 and message in body["error"], (bad, body)
    with pytest.raises(BadInput, match="invalid rate 3"):
        control.set_faults(lab, rate=3)
    assert request(url, "GET", "/ssmlab/faults")[1]["rate"] == 0.0  # a refused PUT changes nothing


def test_both_kinds_are_drawn_and_logged(url):
    put_faults(url, rate=1.0, seed=5, kinds=["throttle", "unavailable"], actions=["DescribeAvailabilityZones"])
    ec2 = client(url, "ec2")
    codes = set()
    for _ in range(12):
        with pytest.raises(ClientError) as caught:
            ec2.describe_availability_zones()
        codes.add(caught.value.response["Error"]["Code"])
    assert codes == {"RequestLimitExceeded", "Unavailable"}


def test_ssmlab_routes_are_never_faulted_and_a_client_cannot_claim_to_be_internal(url):
    put_faults(url, rate=1.0, seed=1)  # every AWS request
    assert request(url, "GET", "/ssmlab/health")[0] == 200
    assert request(url, "GET", "/ssmlab/faults")[1]["injected"] == 0
    # Only the emulator's own requests carry its per-process mark; a client's header is no exemption.
    ec2 = client(url, "ec2")
    ec2.meta.events.register("before-sign", lambda request, **_: request.headers.__setitem__("X-Ssmlab-Internal", "test"))
    with pytest.raises(ClientError):
        ec2.describe_vpcs()
    assert request(url, "GET", "/ssmlab/faults")[1]["injected"] >= 1


# -- the headline: a whole build through botocore's retries ------------------------------------

def resource_shape(lab: Lab) -> dict[str, list]:
    """What a build made, without its ids: comparable between two labs."""
    ec2, iam = lab.client("ec2"), lab.client("iam")
    mine = [{"Name": f"tag:{TAG_KEY}", "Values": [lab.name]}]

    def names(items):
        return sorted(next((t["Value"] for t in item.get("Tags", []) if t["Key"] == "Name"), "?")
                      .removeprefix(lab.name) for item in items)

    endpoints = ec2.describe_vpc_endpoints(Filters=mine)["VpcEndpoints"]
    return {
        "vpcs": [v["CidrBlock"] for v in ec2.describe_vpcs(Filters=mine)["Vpcs"]],
        "subnets": sorted(s["CidrBlock"] for s in ec2.describe_subnets(Filters=mine)["Subnets"]),
        "route_tables": names(ec2.describe_route_tables(Filters=mine)["RouteTables"]),
        "security_groups": names(ec2.describe_security_groups(Filters=mine)["SecurityGroups"]),
        "endpoints": sorted((e["ServiceName"], e["VpcEndpointType"], e.get("PrivateDnsEnabled")) for e in endpoints),
        "instances": [(i["InstanceType"], i["State"]["Name"]) for r in ec2.describe_instances(Filters=mine)["Reservations"]
                      for i in r["Instances"]],
        "roles": sorted(r["RoleName"].removeprefix(lab.name) for r in iam.list_roles()["Roles"]
                        if r["RoleName"].startswith(lab.name + "-")),
        "log_groups": sorted(g["logGroupName"].replace(lab.name, "*") for g in
                             lab.client("logs").describe_log_groups()["logGroups"] if lab.name in g["logGroupName"]),
        "buckets": sorted(b["Name"].replace(lab.name, "*").split("-", 2)[0] for b in
                          lab.client("s3").list_buckets()["Buckets"] if lab.name in b["Name"]),
    }


def test_a_build_completes_through_botocore_retries_with_10_percent_throttling(url, quick_backoff):
    options = BuildOptions(session_logging=("cloudwatch", "s3"))
    clean = Lab("faults-clean", REGION, "emulator")
    build(clean, options)
    expected = resource_shape(clean)
    assert all(expected.values()), expected

    faulty = Lab("faults-10pc", REGION, "emulator")
    put_faults(url, rate=0.1, seed=7, kinds=["throttle"])  # every action, as started
    result = build(faulty, options)
    settings = request(url, "GET", "/ssmlab/faults")[1]
    put_faults(url, rate=0)  # read back without faults

    made = calls(url, lab=faulty.name)
    injected = [c for c in made if c["fault"]]
    assert settings["injected"] == len(injected) > 0
    assert all(c["error"] in ("RequestLimitExceeded", "Throttling", "ThrottlingException", "SlowDown")
               for c in injected)
    assert resource_shape(faulty) == expected
    assert result.created and {r.step for r in result.reports} == {
        "network", "security-groups", "endpoints", "iam", "instance", "session-logging"}
    # Every faulted attempt was retried by botocore, and a later attempt got through.
    retried = [c for c in made if c["attempt"] and c["attempt"] > 1]
    assert len(retried) >= len(injected)
    print(f"\n10% throttling: {len(made)} requests, {len(injected)} injected faults, {len(retried)} retries")
