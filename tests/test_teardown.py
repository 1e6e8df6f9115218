"""Cleanup over HTTP against the emulator process, which enforces AWS's dependency rules.

Labs that set up session logging live in eu-west-1 (the preferences document is one per
region); the --all-labs test has a region of its own (it removes every lab it finds there).
"""

from __future__ import annotations

import json

import boto3
import pytest

from ssmlab import banner, inventory, teardown
from ssmlab.build import STEPS, BuildOptions, build
from ssmlab.emulator import control
from ssmlab.lab import Lab

pytestmark = pytest.mark.emulator
REGION = "ap-northeast-1"
LOGGING_REGION = "eu-west-1"
ALL_LABS_REGION = "ca-central-1"  # no other test builds here
ENCRYPTION_REGION = "eu-west-3"  # the session-encryption build sets the region's preferences: no other test's here
DELETING = ("Terminate", "Delete", "Remove", "Detach", "Revoke", "Update")


def client(emulator, service: str, region: str):
    return boto3.client(service, region_name=region, endpoint_url=emulator.endpoint_url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def actions(lab: Lab) -> list[str]:
    return [c["action"] for c in control.calls(lab)["calls"]]


def mutations(lab: Lab) -> list[str]:
    return [a for a in actions(lab) if a.startswith(DELETING)]


def index(calls: list[str], action: str, last: bool = False) -> int:
    assert action in calls, (action, calls)
    return len(calls) - 1 - calls[::-1].index(action) if last else calls.index(action)


@pytest.fixture(scope="module")
def decoys(emulator):
    """An untagged VPC with a security group, and a second lab built beside the one cleaned up."""
    ec2 = client(emulator, "ec2", LOGGING_REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    sg_id = ec2.create_security_group(GroupName="td-decoy", Description="not a lab's", VpcId=vpc_id)["GroupId"]
    beside = Lab("td-beside", LOGGING_REGION, "emulator")
    build(beside)
    return vpc_id, sg_id, beside


def test_full_build_then_cleanup_leaves_nothing_tagged_and_the_decoys_untouched(emulator, decoys):
    lab = Lab("td-full", LOGGING_REGION, "emulator")
    built = build(lab, BuildOptions(session_logging=("cloudwatch", "s3")))
    ec2, s3 = client(emulator, "ec2", LOGGING_REGION), client(emulator, "s3", LOGGING_REGION)
    # What a workshop adds: transcripts (in a versioned bucket) and an EC2 Instance Connect Endpoint.
    bucket = built.results["session-logging"].bucket
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"one", b"two"):
        s3.put_object(Bucket=bucket, Key="sessions/alice.log", Body=body)
    ec2.create_instance_connect_endpoint(
        SubnetId=built.results["network"].subnet_ids[0], SecurityGroupIds=[built.results["security-groups"].endpoint_sg_id],
        TagSpecifications=[{"ResourceType": "instance-connect-endpoint", "Tags": lab.tags("eice")}],
    )
    before = inventory.lab_resources(lab)
    assert before.eic_endpoints and len(before.bucket.versions) == 2
    beside_before = teardown.leftovers(inventory.lab_resources(decoys[2]))
    control.clear_calls(lab)

    run = emulator.cli("cleanup", "--lab", lab.name, "--region", LOGGING_REGION)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "audit: nothing carries this lab's tag any more" in run.stdout
    assert "FAILED" not in run.stdout
    assert teardown.audit(lab) == []
    assert inventory.lab_resources(lab).empty
    # The preferences: put back when the lab had saved someone's, else deleted with the lab.
    document = client(emulator, "ssm", LOGGING_REGION).list_documents(
        Filters=[{"Key": "Name", "Values": ["SSM-SessionManagerRunShell"]}])["DocumentIdentifiers"]
    if before.backup_parameter:
        content = client(emulator, "ssm", LOGGING_REGION).get_document(
            Name="SSM-SessionManagerRunShell", DocumentFormat="JSON")["Content"]
        assert json.loads(content) == json.loads(before.backup_parameter.value)
    else:
        assert document == []
    # The decoys are still there.
    vpc_id, sg_id, beside = decoys
    assert ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    assert ec2.describe_security_groups(GroupIds=[sg_id])["SecurityGroups"]
    assert teardown.leftovers(inventory.lab_resources(beside)) == beside_before != []

    # AWS's dependency order, as the emulator logged the calls.
    calls = actions(lab)
    assert index(calls, "TerminateInstances") < index(calls, "DeleteVpcEndpoints")
    assert index(calls, "DeleteObjects") < index(calls, "DeleteBucket")
    assert index(calls, "DeleteVpcEndpoints", last=True) < index(calls, "DeleteSecurityGroup")
    assert index(calls, "DeleteInstanceConnectEndpoint") < index(calls, "DeleteSecurityGroup")
    assert index(calls, "DeleteSecurityGroup", last=True) < index(calls, "DeleteSubnet")
    assert index(calls, "DeleteSubnet") < index(calls, "DeleteRouteTable") < index(calls, "DeleteVpc")
    assert index(calls, "RemoveRoleFromInstanceProfile") < index(calls, "DeleteInstanceProfile") < index(calls, "DeleteRole")
    assert index(calls, "DetachRolePolicy") < index(calls, "DeleteRole")
    assert index(calls, "DeleteRolePolicy") < index(calls, "DeleteRole")
    refused = [c for c in control.calls(lab)["calls"] if c.get("error") == "DependencyViolation"]
    assert refused == []

    # A second cleanup finds nothing and changes nothing.
    control.clear_calls(lab)
    again = emulator.cli("cleanup", "--lab", lab.name, "--region", LOGGING_REGION)
    assert again.returncode == 0, again.stderr
    assert "nothing to delete" in again.stdout
    assert mutations(lab) == []


@pytest.mark.parametrize("until", STEPS)
def test_cleanup_after_a_build_stopped_after_each_step(emulator, until):
    logging = until == "session-logging"
    region = {"session-logging": LOGGING_REGION, "session-encryption": ENCRYPTION_REGION}.get(until, REGION)
    lab = Lab(f"td-until-{STEPS.index(until)}", region, "emulator")
    build(lab, BuildOptions(session_logging=("cloudwatch", "s3") if logging else ()), until=until)
    assert not inventory.lab_resources(lab).empty
    outcomes = teardown.execute(lab, teardown.plan(inventory.lab_resources(lab)))
    assert [o for o in outcomes if o.status == "failed"] == []
    assert teardown.audit(lab) == []


def test_dry_run_changes_nothing(emulator):
    lab = Lab("td-dry", REGION, "emulator")
    build(lab)
    before = inventory.lab_resources(lab)
    control.clear_calls(lab)
    dry = emulator.cli("cleanup", "--lab", lab.name, "--region", REGION, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    payload = json.loads(dry.stdout)
    planned = [d["call"] for d in payload["labs"][0]["plan"]]
    assert planned[0] == "ec2.terminate_instances" and planned[-1] == "iam.delete_role"
    assert mutations(lab) == []
    assert inventory.lab_resources(lab) == before
    text = emulator.cli("cleanup", "--lab", lab.name, "--region", REGION, "--dry-run")
    assert text.returncode == 0 and "[ec2.delete_vpc]" in text.stdout
    assert inventory.lab_resources(lab) == before


def test_an_interrupted_cleanup_run_again_finishes(emulator):
    lab = Lab("td-interrupted", REGION, "emulator")
    build(lab)
    deletions = teardown.plan(inventory.lab_resources(lab))
    half = len(deletions) // 2
    first = teardown.execute(lab, deletions[:half])
    assert {o.status for o in first} == {"deleted"}
    assert teardown.audit(lab) != []

    # A new plan holds only what is left.
    assert teardown.plan(inventory.lab_resources(lab)) == deletions[half:]
    # Replaying the whole original plan works too: nothing fails on what is already gone
    # (a NotFound is skipped; some deletions AWS simply answers again), the rest is deleted.
    replay = teardown.execute(lab, deletions)
    assert "already gone" in {o.status for o in replay[:half]}
    assert "failed" not in {o.status for o in replay}
    assert {o.status for o in replay[half:]} == {"deleted"}
    assert teardown.audit(lab) == []


def test_a_cleanup_that_failed_half_way_is_finished_by_the_cli(emulator):
    lab = Lab("td-failed", REGION, "emulator")
    build(lab)
    deletions = teardown.plan(inventory.lab_resources(lab))
    subnet = next(n for n, d in enumerate(deletions) if d.operation == "delete_subnet")
    # Deleting the subnet before the instance is gone: AWS refuses, retried, then reported.
    lines: list[str] = []
    failed = teardown.execute(lab, [deletions[subnet]], explain=lines.append, attempts=2, sleep=lambda s: None)
    assert failed[0].status == "failed" and "DependencyViolation" in failed[0].detail
    assert len(lines) == 1 and "DependencyViolation" in lines[0] and "retry 1/1" in lines[0]
    teardown.execute(lab, deletions[:2])

    run = emulator.cli("cleanup", "--lab", lab.name, "--region", REGION, "--json")
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["ok"] is True and payload["labs"][0]["left"] == []
    assert teardown.audit(lab) == []


def test_all_labs_older_than_removes_only_the_labs_old_enough(emulator):
    old, young = Lab("td-all-a", ALL_LABS_REGION, "emulator"), Lab("td-all-b", ALL_LABS_REGION, "emulator")
    build(old)
    build(young, until="endpoints")  # no instance, no role: its age is its endpoints'

    keep = emulator.cli("cleanup", "--all-labs", "--older-than", "1d", "--region", ALL_LABS_REGION)
    assert keep.returncode == 0, keep.stderr
    assert "td-all-a" in keep.stdout and "td-all-b" in keep.stdout and "remove" not in keep.stdout
    assert not inventory.lab_resources(old).empty and not inventory.lab_resources(young).empty

    listed = emulator.cli("cleanup", "--all-labs", "--older-than", "0m", "--region", ALL_LABS_REGION, "--dry-run", "--json")
    assert listed.returncode == 0, listed.stderr
    found = {f["name"]: f for f in json.loads(listed.stdout)["found"]}
    assert found["td-all-a"]["remove"] and found["td-all-b"]["remove"] and found["td-all-a"]["created"]

    # Ages between the two labs' creation times keep the younger one (the selection the CLI uses).
    by_name = {f.name: f for f in inventory.find_labs(old)}
    assert set(by_name) == {"td-all-a", "td-all-b"}
    a, b = by_name["td-all-a"].created, by_name["td-all-b"].created
    assert a <= b
    between = b - a + (b - a) / 2
    assert by_name["td-all-a"].older_than(between, b + (b - a))
    assert not by_name["td-all-b"].older_than(between, b + (b - a)) or a == b

    gone = emulator.cli("cleanup", "--all-labs", "--older-than", "0m", "--region", ALL_LABS_REGION)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert "remove" in gone.stdout
    assert teardown.audit(old) == [] and teardown.audit(young) == []
    assert inventory.find_labs(old) == []


@pytest.mark.parametrize("args, message", [
    (["cleanup"], "exactly one of --lab NAME or --all-labs"),
    (["cleanup", "--lab", "a", "--all-labs", "--older-than", "1h"], "exactly one of"),
    (["cleanup", "--all-labs"], "--older-than DURATION"),
    (["cleanup", "--all-labs", "--older-than", "3 hours"], "invalid duration '3 hours'"),
    (["cleanup", "--all-labs", "--older-than", "1w"], "30m, 3h, 2d"),
    (["cleanup", "--lab", "a", "--older-than", "1h"], "--older-than"),
    (["cleanup", "--lab", "Bad_Name"], "invalid lab name 'Bad_Name'"),
    (["cleanup", "--lab", "a", "--region", "mars-1"], "invalid region 'mars-1'"),
    (["cleanup", "--lab", "a", "--target", "cloud"], "invalid target 'cloud'"),
])
def test_bad_input_is_one_line_and_exit_2(emulator, args, message):
    run = emulator.cli(*args)
    assert run.returncode == 2, run.stdout + run.stderr
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert run.stdout == ""


def test_on_real_aws_a_cleanup_without_yes_shows_the_plan_and_stops(emulator, monkeypatch, capsys):
    from ssmlab import cli

    lab = Lab("td-confirm", REGION, "emulator")
    build(lab, until="network")
    # Real AWS stood in for by the emulator, so that the confirmation rule itself is what is tested.
    monkeypatch.setattr(Lab, "is_emulator", property(lambda self: False))
    monkeypatch.setattr(Lab, "endpoint_url", property(lambda self: emulator.endpoint_url))
    monkeypatch.setattr(Lab, "session", property(lambda self: boto3.session.Session(
        region_name=self.region, aws_access_key_id="testing", aws_secret_access_key="testing")))
    monkeypatch.setattr(banner, "line", lambda lab: f"lab {lab.name} on REAL AWS")

    code = cli.main(["cleanup", "--lab", lab.name, "--region", REGION, "--target", "aws"])

    out, err = capsys.readouterr()
    assert code == 2
    assert "[ec2.delete_vpc]" in out
    assert "add --yes to confirm" in err and len(err.strip().splitlines()) == 1
    monkeypatch.undo()
    assert not inventory.lab_resources(lab).empty
    assert cli.main(["cleanup", "--lab", lab.name, "--region", REGION]) == 0
