"""A class on one emulator: participants kept apart by keys of their own and the learner policy (ABAC on ssmlab:lab).

The isolation matrix: participant alice, through every API the kit uses, can neither read, change nor delete
participant bob's lab, and gets AWS's refusal in each service's shape; nothing of bob's changes; the facilitator
reads both. Against a class-mode emulator process of its own, over sockets, with botocore signing as a notebook does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ssmlab import classkeys, inventory, learner
from ssmlab.emulator import control
from ssmlab.errors import LabError
from ssmlab.managed import wait_until_managed
from ssmlab.session.client import open_shell
from ssmlab.build import BuildOptions, build
from ssmlab.lab import Lab
from tests.conftest import SSMLAB, run_in_process

REGION = "ca-central-1"
SECRET = "a-class-secret-for-the-tests-0123"
SCREENSHOT = os.environ.get("SSMLAB_DASHBOARD_SCREENSHOT")  # read before the fixture clears SSMLAB_*
NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})
pytestmark = pytest.mark.emulator


def this_machines_address() -> str:
    """An address of this machine other than loopback (where a participant's laptop would connect), if it has one."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent, the kernel only picks a route
            return probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    """A class's shared emulator as a facilitator serves it (`ssmlab emulator serve --host 0.0.0.0 --class FILE`),
    reached at this machine's address, with two labs built by their participants: alice's and bob's."""
    folder = tmp_path_factory.mktemp("class")
    roster = folder / "class.json"
    roster.write_text(json.dumps(classkeys.roster(SECRET, ["alice", "bob"], REGION).to_json()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SSMLAB_"))}
    env.update(SSMLAB_STATE_DIR=str(folder / "state"))
    with open(folder / "serve.log", "w") as log:
        served = subprocess.Popen([SSMLAB, "emulator", "serve", "--host", "0.0.0.0", "--class", str(roster)],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        state = folder / "state" / "emulator.json"
        for _ in range(300):
            if state.exists() or served.poll() is not None:
                break
            time.sleep(0.05)
        assert state.exists(), (folder / "serve.log").read_text()
        url = f"http://{this_machines_address()}:{json.loads(state.read_text())['port']}"
        with pytest.MonkeyPatch.context() as patch:
            for key in [k for k in os.environ if k.startswith(("AWS_", "SSMLAB_"))]:
                patch.delenv(key)
            patch.setenv("SSMLAB_STATE_DIR", env["SSMLAB_STATE_DIR"])
            patch.setenv("SSMLAB_EMULATOR_URL", url)
            for name in ("NO_PROXY", "no_proxy"):
                patch.setenv(name, ",".join(filter(None, [os.environ.get(name), url.split("//")[1].split(":")[0]])))
            for user in ("alice", "bob"):
                with as_participant(patch, user):
                    build(Lab(user, REGION, "emulator"))
            yield url, patch
    finally:
        served.terminate()
        served.wait(timeout=30)


class as_participant:
    """The environment a participant's kernel has (what the hub's spawner gives it): their lab and keys."""

    def __init__(self, patch, user):
        self.patch, self.environ = patch, classkeys.participant_environ(SECRET, user)

    def __enter__(self):
        for key, value in self.environ.items():
            self.patch.setenv(key, value)

    def __exit__(self, *exc):
        for key in self.environ:
            self.patch.delenv(key, raising=False)


def client(url, service, keys: classkeys.Credentials):
    return boto3.client(service, region_name=REGION, endpoint_url=url, aws_access_key_id=keys.access_key_id,
                        aws_secret_access_key=keys.secret_access_key, config=NO_RETRIES)


def refused(call, code, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    assert error["Code"] == code, (call.__name__, error)
    return error["Message"]


def inventory_of(url, lab):
    """What bob's lab holds, read as the facilitator: compared before and after alice's attempts."""
    admin = classkeys.roster(SECRET).facilitator
    ec2, iam = client(url, "ec2", admin), client(url, "iam", admin)
    mine = [{"Name": "tag:ssmlab:lab", "Values": [lab]}]
    vpc = ec2.describe_vpcs(Filters=mine)["Vpcs"][0]
    attribute = ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute="enableDnsHostnames")
    groups = ec2.describe_security_groups(Filters=mine)["SecurityGroups"]
    return {
        "instances": sorted((i["InstanceId"], i["State"]["Name"], i["MetadataOptions"]["HttpTokens"])
                            for r in ec2.describe_instances(Filters=mine)["Reservations"] for i in r["Instances"]),
        "endpoints": sorted(e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints(Filters=mine)["VpcEndpoints"]),
        "rules": sorted(json.dumps(g["IpPermissions"] + g["IpPermissionsEgress"], sort_keys=True) for g in groups),
        "subnets": len(ec2.describe_subnets(Filters=mine)["Subnets"]),
        "dns_hostnames": attribute["EnableDnsHostnames"]["Value"],
        "role_policies": iam.list_role_policies(RoleName=f"{lab}-ssm-instance-role")["PolicyNames"],
    }


def test_a_class_on_one_shared_emulator(classroom):
    """One emulator, built once (a module's tests may run on different workers): a session, then the matrix."""
    url, patch = classroom
    a_session_reaches_the_data_channel_where_the_emulator_was_reached(patch)

    def bob_goes_on():  # session logging and a KMS key (the preferences are shared: after alice's session)
        with as_participant(patch, "bob"):
            build(Lab("bob", REGION, "emulator"), options=BuildOptions(session_logging=("cloudwatch", "s3"),
                                                                       session_encryption=True))

    the_dashboard_shows_both_participants_and_follows_them_without_a_reload(url, bob_goes_on)
    a_participant_can_neither_read_change_nor_delete_another_participants_lab(url)
    a_participant_is_told_in_the_classs_terms_and_only_the_facilitator_sees_the_class(patch)


def a_session_reaches_the_data_channel_where_the_emulator_was_reached(patch):
    with as_participant(patch, "alice"):
        lab = Lab("alice", REGION, "emulator")
        mine = inventory.snapshot(lab).instances[0].instance_id
        wait_until_managed(lab, mine, timeout=60)
        started = lab.client("ssm").start_session(Target=mine)
        address = os.environ["SSMLAB_EMULATOR_URL"].split("//")[1].split(":")[0]
        assert started["StreamUrl"].startswith(f"ws://{address}:"), started["StreamUrl"]  # not the bind's 0.0.0.0
        assert started["SessionId"].startswith("alice-")  # named after its owner, as AWS names a user's sessions
        lab.client("ssm").terminate_session(SessionId=started["SessionId"])  # one's own: allowed
        with open_shell(lab, mine) as session:
            assert session.run("hostname")[1] == 0


def the_dashboard_shows_both_participants_and_follows_them_without_a_reload(url, change_bobs_lab):
    """The facilitator's page in a headless Chromium (Debian's), signed in with the class's token."""
    from playwright.sync_api import expect, sync_playwright

    token = classkeys.roster(SECRET).dashboard_token
    status = f"{url}/ssmlab/class/status"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium")
        try:
            assert answer(status)[0] == 401 and answer(status, "not-the-token")[0] == 401
            code, shown = answer(status, token)  # the JSON of `ssmlab class status --json`, for the roster's region
            assert code == 200 and shown["region"] == REGION
            assert {row["lab"]: row["reached"] for row in shown["participants"]} == {"alice": "instance", "bob": "instance"}
            page = browser.new_page()
            page.goto(f"{url}/ssmlab/class?token={token}")
            expect(page).to_have_url(re.compile(r"/ssmlab/class$"))  # the token: in a cookie, out of sight
            alice, bob = page.locator('tr[data-lab="alice"]'), page.locator('tr[data-lab="bob"]')
            expect(alice.locator(".reached")).to_contain_text("instance")
            expect(bob.locator(".reached")).to_contain_text("instance")
            expect(page.locator("#summary")).to_contain_text("2 labs")
            cost = bob.locator("td.num").nth(1)
            before = cost.inner_text()
            page.evaluate("window.sameDocument = true")
            change_bobs_lab()  # three more endpoints (logs, kms, and S3's gateway): bob's hourly cost goes up
            expect(cost).not_to_have_text(before, timeout=9000)
            assert page.evaluate("window.sameDocument === true")  # redrawn in place: never reloaded
            if SCREENSHOT:  # how the README's picture is made
                page.set_viewport_size({"width": 1100, "height": 400})
                page.screenshot(path=SCREENSHOT)
        finally:
            browser.close()


def answer(url, token=None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=30) as got:
            return got.status, json.loads(got.read())
    except urllib.error.HTTPError as refused:
        return refused.code, None


def a_participant_can_neither_read_change_nor_delete_another_participants_lab(url):
    alice, bob = classkeys.participant_credentials(SECRET, "alice"), classkeys.participant_credentials(SECRET, "bob")
    admin = classkeys.roster(SECRET).facilitator
    before = inventory_of(url, "bob")
    ec2, iam, ssm = client(url, "ec2", alice), client(url, "iam", alice), client(url, "ssm", alice)
    logs, s3, kms = client(url, "logs", alice), client(url, "s3", alice), client(url, "kms", alice)
    eic = client(url, "ec2-instance-connect", alice)
    theirs = [{"Name": "tag:ssmlab:lab", "Values": ["bob"]}]
    bob_ec2 = client(url, "ec2", admin)
    vpc = bob_ec2.describe_vpcs(Filters=theirs)["Vpcs"][0]["VpcId"]
    subnet = bob_ec2.describe_subnets(Filters=theirs)["Subnets"][0]["SubnetId"]
    group = next(g["GroupId"] for g in bob_ec2.describe_security_groups(Filters=theirs)["SecurityGroups"]
                 if g["GroupName"].endswith("instance"))
    instance = bob_ec2.describe_instances(Filters=theirs)["Reservations"][0]["Instances"][0]["InstanceId"]
    endpoint = bob_ec2.describe_vpc_endpoints(Filters=theirs)["VpcEndpoints"][0]["VpcEndpointId"]
    tag_alice = [{"ResourceType": "subnet", "Tags": [{"Key": "ssmlab:lab", "Value": "alice"}]}]

    # EC2: read by naming it, change, delete, and create inside it: UnauthorizedOperation, AWS's message
    message = refused(ec2.describe_instances, "UnauthorizedOperation", InstanceIds=[instance])
    assert "is not authorized to perform: ec2:DescribeInstances" in message and "belongs to lab bob" in message
    refused(ec2.describe_subnets, "UnauthorizedOperation", Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    refused(ec2.describe_security_groups, "UnauthorizedOperation", GroupIds=[group])
    message = refused(ec2.modify_vpc_attribute, "UnauthorizedOperation", VpcId=vpc, EnableDnsHostnames={"Value": False})
    assert message.startswith("You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/")
    assert f"ec2:ModifyVpcAttribute on resource: arn:aws:ec2:{REGION}:123456789012:vpc/{vpc}" in message
    refused(ec2.authorize_security_group_ingress, "UnauthorizedOperation", GroupId=group,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    refused(ec2.revoke_security_group_egress, "UnauthorizedOperation", GroupId=group,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}])
    refused(ec2.modify_instance_metadata_options, "UnauthorizedOperation", InstanceId=instance, HttpTokens="optional")
    refused(ec2.create_subnet, "UnauthorizedOperation", VpcId=vpc, CidrBlock="10.0.9.0/24", TagSpecifications=tag_alice)
    refused(ec2.terminate_instances, "UnauthorizedOperation", InstanceIds=[instance])
    refused(ec2.reboot_instances, "UnauthorizedOperation", InstanceIds=[instance])
    refused(ec2.delete_vpc_endpoints, "UnauthorizedOperation", VpcEndpointIds=[endpoint])
    refused(ec2.delete_security_group, "UnauthorizedOperation", GroupId=group)
    refused(ec2.delete_subnet, "UnauthorizedOperation", SubnetId=subnet)
    refused(ec2.delete_vpc, "UnauthorizedOperation", VpcId=vpc)
    # nor create what is not the caller's lab's: untagged, or tagged for bob
    refused(ec2.create_vpc, "UnauthorizedOperation", CidrBlock="10.9.0.0/16")
    refused(ec2.create_vpc, "UnauthorizedOperation", CidrBlock="10.9.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "ssmlab:lab", "Value": "bob"}]}])
    # nor pass bob's role to her own instance (iam:PassRole)
    own = client(url, "ec2", alice).describe_instances(Filters=[{"Name": "tag:ssmlab:lab", "Values": ["alice"]}])
    mine = own["Reservations"][0]["Instances"][0]["InstanceId"]
    message = refused(ec2.associate_iam_instance_profile, "UnauthorizedOperation", InstanceId=mine,
                      IamInstanceProfile={"Name": "bob-ssm-instance-profile"})
    assert "iam:PassRole" in message and "role/ssmlab/bob-ssm-instance-role" in message

    # IAM: AccessDenied (query protocol)
    message = refused(iam.get_role, "AccessDenied", RoleName="bob-ssm-instance-role")
    assert "is not authorized to perform: iam:GetRole on resource: arn:aws:iam::123456789012:role/ssmlab/bob-" in message
    refused(iam.get_instance_profile, "AccessDenied", InstanceProfileName="bob-ssm-instance-profile")
    refused(iam.put_role_policy, "AccessDenied", RoleName="bob-ssm-instance-role", PolicyName="x",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    refused(iam.detach_role_policy, "AccessDenied", RoleName="bob-ssm-instance-role",
            PolicyArn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")
    refused(iam.remove_role_from_instance_profile, "AccessDenied", InstanceProfileName="bob-ssm-instance-profile",
            RoleName="bob-ssm-instance-role")
    refused(iam.delete_role, "AccessDenied", RoleName="bob-ssm-instance-role")

    # Sessions, commands, keys pushed: AccessDeniedException (JSON protocol)
    message = refused(ssm.start_session, "AccessDeniedException", Target=instance)
    assert f"ssm:StartSession on resource: arn:aws:ec2:{REGION}:123456789012:instance/{instance}" in message
    refused(ssm.start_session, "AccessDeniedException", Target=instance, DocumentName="AWS-StartPortForwardingSession",
            Parameters={"portNumber": ["22"], "localPortNumber": ["2222"]})
    refused(ssm.send_command, "AccessDeniedException", InstanceIds=[instance], DocumentName="AWS-RunShellScript",
            Parameters={"commands": ["id"]})
    refused(ssm.terminate_session, "AccessDeniedException", SessionId="bob-0123456789abcdef")
    refused(eic.send_ssh_public_key, "AccessDeniedException", InstanceId=instance, InstanceOSUser="ec2-user",
            SSHPublicKey="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl")

    # Session logging and encryption: the log group, the bucket, the key
    refused(logs.get_log_events, "AccessDeniedException", logGroupName="/ssmlab/bob/sessions", logStreamName="x")
    refused(logs.put_retention_policy, "AccessDeniedException", logGroupName="/ssmlab/bob/sessions", retentionInDays=1)
    refused(logs.delete_log_group, "AccessDeniedException", logGroupName="/ssmlab/bob/sessions")
    bucket = f"ssmlab-bob-123456789012-{REGION}"
    refused(s3.get_bucket_tagging, "AccessDenied", Bucket=bucket)
    refused(s3.put_object, "AccessDenied", Bucket=bucket, Key="sessions/forged.log", Body=b"x")
    refused(s3.delete_bucket, "AccessDenied", Bucket=bucket)
    refused(kms.describe_key, "AccessDeniedException", KeyId="alias/ssmlab-bob-sessions")
    refused(kms.schedule_key_deletion, "AccessDeniedException", KeyId="alias/ssmlab-bob-sessions", PendingWindowInDays=7)

    # Keys nobody issued, and a secret that is not the key's: refused before any policy
    stranger = classkeys.Credentials("AKIAIOSFODNN7EXAMPLE", "x" * 40)
    refused(client(url, "ec2", stranger).describe_vpcs, "AuthFailure")
    refused(client(url, "iam", stranger).list_roles, "InvalidClientTokenId")
    refused(client(url, "ssm", stranger).describe_sessions, "UnrecognizedClientException", State="Active")
    forged = classkeys.Credentials(bob.access_key_id, alice.secret_access_key)
    refused(client(url, "ec2", forged).terminate_instances, "SignatureDoesNotMatch", InstanceIds=[instance])
    refused(client(url, "ec2", classkeys.Credentials("testing", "testing")).describe_vpcs, "AuthFailure")

    assert inventory_of(url, "bob") == before  # nothing of bob's changed

    # ... while alice acts on her own lab, and the facilitator reads both
    client(url, "ec2", alice).modify_instance_metadata_options(InstanceId=mine, HttpTokens="required")
    client(url, "iam", alice).get_role(RoleName="alice-ssm-instance-role")
    facilitator = client(url, "ec2", admin)
    both = facilitator.describe_instances(InstanceIds=[instance, mine])["Reservations"]
    assert {i["InstanceId"] for r in both for i in r["Instances"]} == {instance, mine}
    client(url, "iam", admin).get_role(RoleName="bob-ssm-instance-role")


def a_participant_is_told_in_the_classs_terms_and_only_the_facilitator_sees_the_class(patch):
    with as_participant(patch, "alice"):
        own = run_in_process(["status", "--lab", "alice", "--region", REGION, "--json"], {})
        assert own.returncode == 0, own.stdout + own.stderr
        theirs = run_in_process(["status", "--lab", "bob", "--region", REGION], {})
        assert theirs.returncode == 1, theirs.stdout
        assert "AccessDenied" in theirs.stderr and "act only on your own lab" in theirs.stderr
        assert "--target emulator" not in theirs.stderr
        listing = run_in_process(["class", "status", "--region", REGION, "--json"], {})
        assert listing.returncode == 1 and not listing.stdout and "AccessDenied" in listing.stderr, listing.stderr
        with pytest.raises(LabError, match="403"):  # the call log shows everybody's calls: the facilitator's
            control.calls(Lab("alice", REGION, "emulator"), all_labs=True)
    facilitator = classkeys.roster(SECRET).facilitator  # the call log: the facilitator's, signed
    patch.setenv("SSMLAB_ACCESS_KEY_ID", facilitator.access_key_id)
    patch.setenv("SSMLAB_SECRET_ACCESS_KEY", facilitator.secret_access_key)
    try:
        calls = control.calls(Lab("alice", REGION, "emulator"), all_labs=True)["calls"]
    finally:
        patch.delenv("SSMLAB_ACCESS_KEY_ID")
        patch.delenv("SSMLAB_SECRET_ACCESS_KEY")
    refused = {(c["lab"], c["action"]) for c in calls if c["error"] in ("UnauthorizedOperation", "AccessDenied")}
    assert ("bob", "DescribeVpcAttribute") in refused or ("bob", "GetInstanceProfile") in refused  # alice's try
    assert {c["lab"] for c in calls} >= {"alice", "bob"}


def test_the_policy_the_emulator_enforces_is_the_one_ssmlab_prints_for_aws():
    result = run_in_process(["policy", "learner", "--lab", "alice", "--region", REGION, "--account", "123456789012"], {})
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == learner.policy("alice", region=REGION, account="123456789012")
    statements = {s["Sid"]: s for s in printed["Statement"]}
    assert statements["SessionsOnTheLabsInstances"]["Condition"] == {
        "StringEquals": {"ssm:resourceTag/ssmlab:lab": "alice"}}
    assert "ec2:Describe*" in statements["ReadWhatCannotBeScoped"]["Action"]
