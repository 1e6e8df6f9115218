"""The learner policy (pure), a class's keys, and the SigV4 check: hand-built requests and contexts, no emulator."""

from __future__ import annotations

import io
import json
import stat

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ssmlab import classkeys, learner
from ssmlab import policy as iam
from ssmlab.emulator import sigv4
from ssmlab.errors import BadInput
from ssmlab.model import Policy
from tests.conftest import run_in_process

ACCOUNT, REGION = "123456789012", "eu-west-3"


def allowed(lab, action, arn, context=None):
    document = learner.policy(lab, region=REGION, account=ACCOUNT)
    return iam.evaluate([Policy("learner", document)], action, arn, context or {}).allowed


def ec2(rest):
    return f"arn:aws:ec2:{REGION}:{ACCOUNT}:{rest}"


def test_every_call_the_notebooks_make_has_an_iam_action_and_a_scope():
    for service, action in learner.notebook_calls():
        assert learner.scopes(learner.iam_action(service, action))
    assert learner.iam_action("s3", "HeadBucket") == "s3:ListBucket"
    assert learner.iam_action("resourcegroupstaggingapi", "GetResources") == "tag:GetResources"
    with pytest.raises(ValueError):
        learner.scopes("cloudformation:CreateStack")


def test_creates_need_the_labs_tag_in_the_request_and_changes_the_labs_tag_on_the_resource():
    mine, theirs = {"aws:RequestTag/ssmlab:lab": "alice"}, {"aws:RequestTag/ssmlab:lab": "bob"}
    assert allowed("alice", "ec2:CreateVpc", ec2("vpc/*"), mine)
    assert not allowed("alice", "ec2:CreateVpc", ec2("vpc/*"), theirs)
    assert not allowed("alice", "ec2:CreateVpc", ec2("vpc/*"))  # untagged
    # a subnet tagged for alice, inside bob's VPC: the VPC is evaluated by its own tag
    assert allowed("alice", "ec2:CreateSubnet", ec2("subnet/*"), mine)
    assert not allowed("alice", "ec2:CreateSubnet", ec2("vpc/vpc-1"), {**mine, "aws:ResourceTag/ssmlab:lab": "bob"})
    assert allowed("alice", "ec2:TerminateInstances", ec2("instance/i-1"), {"aws:ResourceTag/ssmlab:lab": "alice"})
    assert not allowed("alice", "ec2:TerminateInstances", ec2("instance/i-1"), {"aws:ResourceTag/ssmlab:lab": "bob"})
    assert allowed("alice", "ec2:DescribeInstances", "*")  # EC2 describes cannot be scoped on AWS
    assert allowed("alice", "ec2:RunInstances", f"arn:aws:ec2:{REGION}::image/ami-1")


def test_names_are_the_labs_exact_names_so_lab_a_never_reaches_lab_a_b():
    role = "arn:aws:iam::123456789012:role/ssmlab/{}-ssm-instance-role"
    assert allowed("a", "iam:PutRolePolicy", role.format("a"))
    assert not allowed("a", "iam:PutRolePolicy", role.format("a-b"))
    assert not allowed("a", "iam:PassRole", role.format("b"))
    assert allowed("a", "s3:GetObject", f"arn:aws:s3:::ssmlab-a-{ACCOUNT}-{REGION}/sessions/x.log")
    assert not allowed("a", "s3:GetObject", f"arn:aws:s3:::ssmlab-a-b-{ACCOUNT}-{REGION}/sessions/x.log")
    assert not allowed("a", "logs:GetLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ssmlab/a-b/sessions")
    assert allowed("a", "logs:GetLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ssmlab/a/sessions")


def test_sessions_reach_only_the_labs_instances_and_end_only_ones_own():
    instance = ec2("instance/i-1")
    assert allowed("alice", "ssm:StartSession", instance, {"ssm:resourceTag/ssmlab:lab": "alice"})
    assert not allowed("alice", "ssm:StartSession", instance, {"ssm:resourceTag/ssmlab:lab": "bob"})
    assert allowed("alice", "ssm:StartSession", f"arn:aws:ssm:{REGION}::document/AWS-StartPortForwardingSession")
    session = f"arn:aws:ssm:{REGION}:{ACCOUNT}:session/{{}}-0123456789abcdef"
    assert allowed("alice", "ssm:TerminateSession", session.format("alice"), {"aws:username": "alice"})
    assert not allowed("alice", "ssm:TerminateSession", session.format("bob"), {"aws:username": "alice"})
    assert not allowed("alice", "ssm:CreateDocument", f"arn:aws:ssm:{REGION}:{ACCOUNT}:document/Anything")


def test_the_policy_lists_no_action_twice_in_a_statement_and_names_every_statement():
    document = learner.policy("alice", region=REGION, account=ACCOUNT)
    sids = [s["Sid"] for s in document["Statement"]]
    assert len(sids) == len(set(sids)) and all(s.isalnum() for s in sids)
    for statement in document["Statement"]:
        assert len(statement["Action"]) == len(set(statement["Action"]))
    assert "ec2:CreateTags" in json.dumps(document)  # tags given at create are authorised as CreateTags


def test_a_class_gives_each_participant_keys_of_their_own_from_one_secret():
    roster = classkeys.roster("s" * 20, ["Alice.Smith", "bob"], "eu-west-3")
    assert roster.participants == ("alice-smith-" + roster.participants[0][-4:], "bob")
    first, again = roster.credentials("bob"), classkeys.participant_credentials("s" * 20, "bob")
    assert first == again and first != roster.credentials(roster.participants[0])
    assert classkeys.participant_credentials("t" * 20, "bob").secret_access_key != first.secret_access_key
    assert classkeys.lab_of_key(first.access_key_id) == "bob"
    assert classkeys.lab_of_key(classkeys.FACILITATOR_KEY_ID) is None and classkeys.lab_of_key("AKIAX") is None
    environ = classkeys.participant_environ("s" * 20, "Alice.Smith", "http://10.0.0.5:8765")
    assert environ["SSMLAB_LAB"] == roster.participants[0] and environ["SSMLAB_EMULATOR_URL"] == "http://10.0.0.5:8765"
    with pytest.raises(BadInput, match="at least 16"):
        classkeys.roster("short")
    with pytest.raises(BadInput, match="would share the lab"):
        classkeys.roster("s" * 20, ["bob", "bob"])


def environ_of(request: AWSRequest) -> dict:
    prepared = request.prepare()
    path, _, query = prepared.url.split("://", 1)[1].partition("/")[2].partition("?")
    environ = {"REQUEST_METHOD": prepared.method, "PATH_INFO": "/" + path, "RAW_URI": "/" + path + (f"?{query}" if query else ""),
               "QUERY_STRING": query, "wsgi.input": io.BytesIO(prepared.body or b""),
               "CONTENT_LENGTH": str(len(prepared.body or b"")),
               "HTTP_HOST": prepared.url.split("://", 1)[1].split("/", 1)[0]}  # what the HTTP client sends
    for name, value in prepared.headers.items():
        value = value.decode() if isinstance(value, bytes) else value
        if name.lower() == "content-type":
            environ["CONTENT_TYPE"] = value
        elif name.lower() != "content-length":
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


@pytest.mark.parametrize("service,signer", [("ec2", SigV4Auth), ("s3", S3SigV4Auth)])
def test_a_signature_holds_only_for_the_secret_it_was_made_with_and_the_request_it_covers(service, signer):
    body = b"Action=DescribeVpcs&Version=2016-11-15" if service == "ec2" else b"hello"
    url = "http://127.0.0.1:5000/" if service == "ec2" else "http://127.0.0.1:5000/ssmlab-a-bucket/sessions/a%20b.log"
    request = AWSRequest(method="POST" if service == "ec2" else "PUT", url=url, data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded"} if service == "ec2" else {})
    if service == "s3":
        import hashlib

        request.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
    signer(Credentials("ssmlab-a", "right-secret"), service, REGION).add_auth(request)
    environ = environ_of(request)
    signed = sigv4.claim(sigv4.headers_of(environ), environ["QUERY_STRING"])
    assert signed is not None and signed.access_key_id == "ssmlab-a" and signed.region == REGION
    assert sigv4.verify(signed, "right-secret", environ, body)
    assert not sigv4.verify(signed, "wrong-secret", environ, body)
    assert not sigv4.verify(signed, "right-secret", environ, body + b"&Extra=1")


def test_roster_and_keys_from_the_command_line(tmp_path):
    roster = tmp_path / "class.json"
    made = run_in_process(["class", "roster", "alice", "Bob.Smith", "--out", str(roster), "--region", REGION], {})
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(roster.stat().st_mode) == 0o600  # it holds the secret every key derives from
    secret = json.loads(roster.read_text())["secret"]
    again = run_in_process(["class", "roster", "carol", "--out", str(roster)], {})
    data = json.loads(roster.read_text())
    assert again.returncode == 0 and data["secret"] == secret and data["participants"] == ["alice", "Bob.Smith", "carol"]
    keys = run_in_process(["class", "keys", "--class", str(roster), "--url", "http://10.0.0.5:8765", "--json"], {})
    found = json.loads(keys.stdout)["participants"]
    assert set(found) == {"alice", "Bob.Smith", "carol"}
    assert found["alice"]["SSMLAB_ACCESS_KEY_ID"] == "ssmlab-alice"
    assert found["alice"]["SSMLAB_SECRET_ACCESS_KEY"] == classkeys.participant_credentials(secret, "alice").secret_access_key
    facilitator = run_in_process(["class", "keys", "--class", str(roster), "--facilitator", "--url", "http://h:1"], {})
    assert "SSMLABFACILITATOR" in facilitator.stdout and "http://h:1/ssmlab/class?token=" in facilitator.stdout


@pytest.mark.parametrize("args,named", [
    (["class", "keys", "--class", "missing.json"], "missing.json: no such file"),
    (["policy", "learner", "--lab", "Bad_Name"], "Bad_Name"),
    (["policy", "learner", "--lab", "alice", "--account", "12"], "--account '12'"),
    (["emulator", "serve", "--class", "missing.json"], "missing.json: no such file"),
])
def test_bad_class_input_is_one_line_and_exit_2(args, named, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_in_process(args, {})
    assert result.returncode == 2 and named in result.stderr and len(result.stderr.strip().splitlines()) == 1, result
