"""Session encryption end to end, over HTTP against the emulator: `build --session-encryption` makes the key,
its alias, the role's permission, the kms endpoint and kmsKeyId in the preferences; the doctor is clean; a
broken permission or endpoint is the doctor's code and a failed session; cleanup schedules the key's deletion
and removes the rest, and running it again is fine. What is checked is read back with plain boto3."""

from __future__ import annotations

import json

import boto3
import pytest

from ssmlab import checkup, inventory, managed, policy, status
from ssmlab.build import BuildOptions, build
from ssmlab.emulator import control
from ssmlab.emulator.agent import AGENT_START_DELAY
from ssmlab.errors import LabError
from ssmlab.lab import TAG_KEY, Lab

pytestmark = pytest.mark.emulator
# Session Manager preferences are one per region: encrypted labs live in regions no other test uses.
REGION = "ap-northeast-2"
SHARED_REGION = "sa-east-1"


def client(emulator, service: str, region: str = REGION):
    return boto3.client(service, region_name=region, endpoint_url=emulator.endpoint_url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def kms_codes(lab: Lab) -> list[str]:
    (diagnosis,) = checkup.checkup(lab)
    return [c for c in diagnosis.codes() if "KMS" in c]


def test_an_encrypted_lab_from_build_to_cleanup(emulator):
    lab = Lab("enc-e2e", REGION, "emulator")
    results = build(lab, BuildOptions(session_encryption=True)).results
    encryption, role = results["session-encryption"], results["iam"]
    kms, iam, ec2 = client(emulator, "kms"), client(emulator, "iam"), client(emulator, "ec2")

    # The key, its alias, its tags and key policy; the role's permission; the kms endpoint; the preferences.
    key = kms.describe_key(KeyId=encryption.alias)["KeyMetadata"]
    assert key["KeyId"] == encryption.key_id and key["KeyState"] == "Enabled" and key["Arn"] == encryption.key_arn
    assert {"TagKey": TAG_KEY, "TagValue": lab.name} in kms.list_resource_tags(KeyId=key["KeyId"])["Tags"]
    statement = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])["Statement"][0]
    assert statement["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"} and statement["Action"] == "kms:*"
    document = iam.get_role_policy(RoleName=role.role_name, PolicyName=encryption.policy_name)["PolicyDocument"]
    granted = document if isinstance(document, dict) else json.loads(document)
    assert granted["Statement"][0]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert granted["Statement"][0]["Resource"] == key["Arn"]
    (endpoint,) = ec2.describe_vpc_endpoints(VpcEndpointIds=[encryption.kms_endpoint_id])["VpcEndpoints"]
    assert endpoint["ServiceName"] == f"com.amazonaws.{REGION}.kms" and endpoint["PrivateDnsEnabled"]
    assert inventory.session_preferences(lab)["kmsKeyId"] == key["Arn"]
    state = inventory.snapshot(lab)
    assert policy.evaluate(policy.role_policies(state.role(role.role_name)), "kms:Decrypt", key["Arn"]).allowed
    row = {s.step: s for s in status.lab_status(state)}["session-encryption"]
    assert row.status == status.COMPLETE and key["KeyId"] in row.detail and "session-logging" not in {
        s.step for s in status.lab_status(state) if s.status == status.COMPLETE}

    # A rebuild creates nothing; the doctor is clean and a session starts.
    assert build(lab, BuildOptions(session_encryption=True)).created == ()
    instance_id = results["instance"].instance_id
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    assert kms_codes(lab) == []
    managed.end_session(lab, managed.start_session(lab, instance_id).session_id)

    # Without kms:Decrypt the doctor names it with a fix, and the session fails in the agent's words.
    iam.delete_role_policy(RoleName=role.role_name, PolicyName=encryption.policy_name)
    (diagnosis,) = checkup.checkup(lab)
    (finding,) = [f for f in diagnosis.findings if f.code == "ROLE_MISSING_KMS_PERMISSIONS"]
    assert not diagnosis.ok and "kms:Decrypt" in finding.message and "aws iam put-role-policy" in finding.fix.text
    with pytest.raises(LabError, match="Fetching data key failed.*AccessDeniedException.*kms:Decrypt"):
        managed.start_session(lab, instance_id)

    # Without the kms endpoint: its own code; a rebuild puts both back.
    ec2.delete_vpc_endpoints(VpcEndpointIds=[encryption.kms_endpoint_id])
    assert kms_codes(lab) == ["KMS_ENDPOINT_UNREACHABLE", "ROLE_MISSING_KMS_PERMISSIONS"]
    with pytest.raises(LabError, match="Fetching data key failed.*kms.ap-northeast-2.amazonaws.com:443"):
        managed.start_session(lab, instance_id)
    again = build(lab, BuildOptions(session_encryption=True))
    assert again.results["session-encryption"].key_id == key["KeyId"] and kms_codes(lab) == []

    # Cleanup: the key is scheduled for deletion (7 days), its alias, endpoint, policy and preferences go.
    done = emulator.cli("cleanup", "--lab", lab.name, "--region", REGION)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "KMS key (deletion scheduled in 7 days)" in done.stdout
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert not [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == encryption.alias]
    assert inventory.session_preferences(lab) is None
    assert inventory.lab_resources(lab).empty
    rerun = emulator.cli("cleanup", "--lab", lab.name, "--region", REGION)
    assert rerun.returncode == 0 and "nothing to delete" in rerun.stdout, rerun.stdout + rerun.stderr


def test_encryption_and_logging_keep_each_others_part_of_the_preferences(emulator):
    lab = Lab("enc-shared", SHARED_REGION, "emulator")
    both = build(lab, BuildOptions(session_logging=("cloudwatch",), session_encryption=True)).results
    key_arn = both["session-encryption"].key_arn
    inputs = inventory.session_preferences(lab)
    assert inputs["cloudWatchLogGroupName"] == both["session-logging"].log_group and inputs["kmsKeyId"] == key_arn
    build(lab, BuildOptions(session_logging=("cloudwatch",)), until="session-logging")  # logging alone keeps the key
    assert inventory.session_preferences(lab)["kmsKeyId"] == key_arn
    build(lab, BuildOptions(session_encryption=True))  # encryption alone keeps the log group
    assert inventory.session_preferences(lab)["cloudWatchLogGroupName"] == both["session-logging"].log_group

    assert emulator.cli("cleanup", "--lab", lab.name, "--region", SHARED_REGION).returncode == 0
    assert inventory.session_preferences(lab) is None  # the lab created them: deleted
    # Built again within the waiting period, the lab takes its key back instead of making (and paying for) another.
    again = build(lab, BuildOptions(session_encryption=True)).results["session-encryption"]
    assert again.key_arn == key_arn
    assert client(emulator, "kms", SHARED_REGION).describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"] == "Enabled"
    assert emulator.cli("cleanup", "--lab", lab.name, "--region", SHARED_REGION).returncode == 0


def test_a_value_given_to_the_flag_is_one_line_exit_2_and_nothing_is_created(emulator):
    done = emulator.cli("build", "--lab", "enc-bad", "--region", REGION, "--session-encryption=yes")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.splitlines() == ["ssmlab build: error: argument --session-encryption: ignored explicit argument 'yes'"]
    assert inventory.lab_resources(Lab("enc-bad", REGION, "emulator")).empty
