"""Reliability, as a hostile but fair user finds it: each case reproduced over real sockets, as it was reported.

1. two builds of one lab at once make one lab;
2. a lost answer (the emulator acted, the client never heard) duplicates nothing;
3. cleanup never crashes on, nor takes, a learner's own look-alike IAM names;
4. cleanup of one lab leaves the session preferences another lab relies on;
8. cleanup names the stranger that blocks it instead of retrying in silence, and the doctor
   says "wait" (not "reboot") for an instance that is still booting;
and a lab that exists twice anyway is reported by status and the doctor, and removed by cleanup.
(Cases 5 to 7 — timeouts, inputs, output paths — are in test_run_timeout.py and test_inputs.py.)

Labs here live in regions of their own (the preferences document is one per region).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest
from lossy_proxy import LossyProxy

from conftest import SSMLAB
from ssmlab import inventory, status, teardown
from ssmlab.lab import Lab

pytestmark = pytest.mark.emulator
REGION = "us-west-2"
PREFERENCES_REGION = "ap-southeast-2"  # no other test sets session preferences here


def lab_state(name: str, region: str = REGION):
    return inventory.snapshot(Lab(name, region, "emulator"))


def counts(name: str, region: str = REGION) -> dict[str, int]:
    state = lab_state(name, region)
    return {"vpcs": len(state.vpcs), "subnets": len(state.subnets),
            "route tables": len([t for t in state.route_tables if not t.main]),
            "security groups": len([g for g in state.security_groups if g.name != "default"]),
            "endpoints": len(state.endpoints), "instances": len(state.instances)}


ONE_LAB = {"vpcs": 1, "subnets": 1, "route tables": 1, "security groups": 2, "endpoints": 2, "instances": 1}


def steps(name: str, region: str = REGION) -> dict[str, str]:
    return {s.step: s.status for s in status.lab_status(lab_state(name, region))}


def via(url: str, emulator) -> dict[str, str]:
    return {**emulator.env, "SSMLAB_EMULATOR_URL": url}


def test_two_builds_of_one_lab_at_once_make_one_lab(emulator):
    # Both builds look the lab up before either creates it: the race that made two labs.
    with LossyProxy(emulator.endpoint_url) as proxy:
        proxy.delay("DescribeVpcs", 0.5, times=2)
        runs = [subprocess.Popen([SSMLAB, "build", "--lab", "rel-twice", "--region", REGION], env=via(proxy.url, emulator),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = [run.communicate(timeout=180) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert counts("rel-twice") == ONE_LAB
    assert set(steps("rel-twice").values()) == {"complete", "missing"}
    waited = [err for _, err in outputs if "waiting: another build" in err]
    assert len(waited) == 1 and "lab rel-twice" in waited[0]
    assert sorted(bool(re.search(r"^0 resource\(s\) created", out, re.M)) for out, _ in outputs) == [False, True]
    assert emulator.cli("cleanup", "--lab", "rel-twice", "--region", REGION).returncode == 0


LOST = ("CreateVpc", "CreateSubnet", "CreateRouteTable", "CreateSecurityGroup", "CreateVpcEndpoint", "CreateRole",
        "CreateInstanceProfile", "RunInstances")


def test_lost_answers_create_nothing_twice(emulator, quick_backoff):
    with LossyProxy(emulator.endpoint_url) as proxy:
        for action in LOST:
            proxy.drop(action)  # the emulator acts; the build never hears of it
        built = emulator.cli("build", "--lab", "rel-lost", "--region", REGION, env={"SSMLAB_EMULATOR_URL": proxy.url})
        dropped = dict(proxy.dropped)
    assert built.returncode == 0, built.stderr
    assert {a: dropped.get(a) for a in LOST} == {a: 1 for a in LOST}
    assert counts("rel-lost") == ONE_LAB
    lab = Lab("rel-lost", REGION, "emulator")
    assert [r["RoleName"] for r in lab.client("iam").list_roles(PathPrefix="/ssmlab/")["Roles"]
            if r["RoleName"].startswith("rel-lost-")] == ["rel-lost-ssm-instance-role"]
    assert set(steps("rel-lost").values()) == {"complete", "missing"}
    assert emulator.cli("cleanup", "--lab", "rel-lost", "--region", REGION).returncode == 0


def test_cleanup_neither_crashes_on_nor_takes_a_look_alike_instance_profile(emulator):
    lab = Lab("victim", REGION, "emulator")
    iam = lab.client("iam")
    assert emulator.cli("build", "--lab", "victim", "--region", REGION, "--until", "iam").returncode == 0
    iam.create_instance_profile(InstanceProfileName="victim-ssm-instance-profile-mine", Path="/")
    iam.create_role(RoleName="victim-ssm-instance-role-mine", Path="/", AssumeRolePolicyDocument="{}")
    dry = emulator.cli("cleanup", "--lab", "victim", "--region", REGION, "--dry-run")
    assert dry.returncode == 0 and "Traceback" not in dry.stderr, dry.stderr
    assert "-mine" not in dry.stdout
    done = emulator.cli("cleanup", "--lab", "victim", "--region", REGION)
    assert done.returncode == 0, done.stdout + done.stderr
    assert iam.get_instance_profile(InstanceProfileName="victim-ssm-instance-profile-mine")
    assert iam.get_role(RoleName="victim-ssm-instance-role-mine")
    iam.delete_instance_profile(InstanceProfileName="victim-ssm-instance-profile-mine")
    iam.delete_role(RoleName="victim-ssm-instance-role-mine")


def preferences_document(region: str) -> dict | None:
    return inventory.preferences_document(Lab("rel-probe", region, "emulator"))


def test_cleanup_of_one_lab_leaves_the_session_preferences_another_lab_relies_on(emulator):
    region = PREFERENCES_REGION
    for name in ("pa", "pb"):
        built = emulator.cli("build", "--lab", name, "--region", region, "--session-logging", "cloudwatch")
        assert built.returncode == 0, built.stderr
    shown = json.loads(emulator.cli("status", "--lab", "pa", "--region", region, "--json").stdout)
    logging = next(s for s in shown["steps"] if s["step"] == "session-logging")
    assert logging["status"] == "partial" and "lab pb's" in logging["detail"]  # pb's preferences hold the region now
    cleaned = emulator.cli("cleanup", "--lab", "pa", "--region", region)
    assert cleaned.returncode == 0, cleaned.stdout
    assert "note: SSM-SessionManagerRunShell now holds lab pb's preferences" in cleaned.stdout
    document = preferences_document(region)
    assert document is not None and "/ssmlab/pb/sessions" in document.content
    assert steps("pb", region)["session-logging"] == "complete"
    # pb now counts as the creator: its own cleanup removes the document and leaves nothing
    assert emulator.cli("cleanup", "--lab", "pb", "--region", region).returncode == 0
    assert preferences_document(region) is None
    assert inventory.saved_preferences(Lab("rel-probe", region, "emulator")) == ()


def test_cleanup_names_a_strangers_instance_in_the_labs_subnet_and_does_not_wait_for_it(emulator):
    assert emulator.cli("build", "--lab", "rel-stranger", "--region", REGION).returncode == 0
    ours = lab_state("rel-stranger").instances[0]
    ec2 = Lab("rel-stranger", REGION, "emulator").client("ec2")
    stranger = ec2.run_instances(ImageId=ours.image_id, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                 SubnetId=ours.subnet_id, SecurityGroupIds=list(ours.group_ids))["Instances"][0]["InstanceId"]
    started = time.monotonic()
    blocked = emulator.cli("cleanup", "--lab", "rel-stranger", "--region", REGION)
    seconds = time.monotonic() - started
    assert blocked.returncode == 1
    assert f"note: instance {stranger} is not lab rel-stranger's" in blocked.stdout
    assert f"aws ec2 terminate-instances --instance-ids {stranger}" in blocked.stdout
    assert f"held by instance {stranger}" in blocked.stdout and "retry" not in blocked.stdout
    assert seconds < 30, seconds  # it used to retry for about a minute without naming it
    ec2.terminate_instances(InstanceIds=[stranger])
    again = emulator.cli("cleanup", "--lab", "rel-stranger", "--region", REGION)
    assert again.returncode == 0 and "nothing carries this lab's tag any more" in again.stdout


def test_the_doctor_right_after_a_build_says_wait_not_reboot(emulator, tmp_path):
    # An emulator whose simulated time runs slowly, so that the agent is still starting when the doctor asks.
    env = {**emulator.env, "SSMLAB_STATE_DIR": str(tmp_path)}
    env.pop("SSMLAB_EMULATOR_URL")
    subprocess.run([SSMLAB, "emulator", "start", "--time-scale", "1"], env=env, check=True, capture_output=True, timeout=60)
    try:
        assert subprocess.run([SSMLAB, "build", "--lab", "rel-boot", "--region", REGION], env=env,
                              capture_output=True, timeout=120).returncode == 0
        doctor = subprocess.run([SSMLAB, "doctor", "--lab", "rel-boot", "--region", REGION, "--json"], env=env,
                                capture_output=True, text=True, timeout=60)
    finally:
        subprocess.run([SSMLAB, "emulator", "stop"], env=env, capture_output=True, timeout=60)
    found = json.loads(doctor.stdout)
    assert doctor.returncode == 0 and found["ok"] and found["managed"] is False
    codes = [f["code"] for f in found["findings"]]
    assert "AGENT_STARTING" in codes and "NOT_MANAGED" not in codes and "REBOOT_RECOMMENDED" not in codes
    starting = next(f for f in found["findings"] if f["code"] == "AGENT_STARTING")
    assert starting["fix"].startswith("wait") and "reboot" not in starting["fix"]


def test_a_lab_that_exists_twice_is_reported_and_removed_whole(emulator):
    assert emulator.cli("build", "--lab", "rel-copy", "--region", REGION).returncode == 0
    lab = Lab("rel-copy", REGION, "emulator")
    ours = lab_state("rel-copy").instances[0]
    # what a build on another machine at the same moment leaves: a second VPC and instance carrying the lab's tags
    ec2 = lab.client("ec2")
    copy = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=lab.tag_specifications("vpc", "vpc"))["Vpc"]["VpcId"]
    ec2.run_instances(ImageId=ours.image_id, InstanceType="t3.micro", MinCount=1, MaxCount=1, SubnetId=ours.subnet_id,
                      TagSpecifications=lab.tag_specifications("instance", "instance"))
    shown = emulator.cli("status", "--lab", "rel-copy", "--region", REGION)
    assert "2x  network" in shown.stdout and copy in shown.stdout and "2x  instance" in shown.stdout, (
        shown.stdout, shown.stderr)
    assert "ssmlab cleanup --lab rel-copy" in shown.stdout
    doctor = emulator.cli("doctor", "--lab", "rel-copy", "--region", REGION, "--json")
    findings = [f for d in json.loads(doctor.stdout) for f in d["findings"]]
    assert any(f["code"] == "DUPLICATE_RESOURCES" and "2 x instance rel-copy-instance" in f["message"] for f in findings)
    rebuilt = emulator.cli("build", "--lab", "rel-copy", "--region", REGION)
    assert rebuilt.returncode == 1 and "carrying its tag" in rebuilt.stderr and "ssmlab cleanup" in rebuilt.stderr
    assert emulator.cli("cleanup", "--lab", "rel-copy", "--region", REGION).returncode == 0
    assert teardown.audit(lab) == [] and lab_state("rel-copy").vpcs == ()


def test_a_lock_held_by_another_process_is_waited_for_and_named(emulator, tmp_path):
    script = ("import sys, time\nfrom ssmlab.lab import Lab\nfrom ssmlab.locking import lab_lock\n"
              "with lab_lock(Lab('rel-held', 'us-west-2', 'emulator'), 'build'):\n"
              "    print('held', flush=True); time.sleep(1.5)\n")
    holder = subprocess.Popen([os.path.join(os.path.dirname(SSMLAB), "python"), "-c", script], env=emulator.env,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    cleaned = emulator.cli("cleanup", "--lab", "rel-held", "--region", REGION)
    holder.wait(timeout=30)
    assert cleaned.returncode == 0
    assert f"waiting: another build (pid {holder.pid}," in cleaned.stderr
