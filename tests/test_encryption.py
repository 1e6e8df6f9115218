"""Session encryption's pure parts with hand-built states: the doctor's KMS check (`encryption.check`), the
agent's failure the emulator gives (`encryption.session_problem`), whose preferences a kmsKeyId makes them
(`preferences`), the teardown of the lab's key (`kmskey`) and its status row."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ssmlab import encryption, kmskey, preferences, status
from ssmlab.doctor import CODES, diagnose
from ssmlab.model import Parameter, Policy, PreferencesDocument
from ssmlab.kmskey import KmsKey
from builders import CORE, ROLE_ARN, endpoint, endpoints, groups, private_lab, sg, with_role

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:ap-northeast-1:123456789012:key/{KEY_ID}"
ALIAS = "alias/ssmlab-demo-sessions"
LAB_TAGS = (("Name", "demo-session-key"), ("ssmlab:lab", "demo"))
KEY = KmsKey(KEY_ID, KEY_ARN, "Enabled", (ALIAS,), {}, LAB_TAGS)
DECRYPT = Policy("demo-session-encryption", {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": KEY_ARN}]})


def encrypted_lab(*inline, key=KEY, kms_endpoint=True):
    """The private lab with the session key, the role's permission (or `inline` instead) and the kms endpoint."""
    state = private_lab(kms_keys=(key,) if key else ())
    state = with_role(state, CORE, inline=inline or (DECRYPT,))
    return endpoints(state, endpoint("kms")) if kms_endpoint else state


def codes(state, ref=KEY_ARN):
    return [p.code for p in encryption.check(state, "i-1", {"kmsKeyId": ref})]


# -- the doctor's check ------------------------------------------------------------------------------


def test_nothing_is_checked_when_the_preferences_name_no_key():
    assert encryption.check(private_lab(), "i-1", None) == []
    assert encryption.check(private_lab(), "i-1", {"kmsKeyId": "", "s3BucketName": ""}) == []


@pytest.mark.parametrize("ref", [KEY_ARN, KEY_ID, ALIAS, f"arn:aws:kms:ap-northeast-1:123456789012:{ALIAS}"])
def test_a_complete_encrypted_lab_passes_whatever_names_the_key(ref):
    assert codes(encrypted_lab(), ref) == []


def test_no_kms_endpoint_is_its_code_with_the_create_command():
    (problem,) = encryption.check(encrypted_lab(kms_endpoint=False), "i-1", {"kmsKeyId": KEY_ARN})
    assert problem.code == "KMS_ENDPOINT_UNREACHABLE" and problem.resource == "kms"
    assert "no interface endpoint for kms" in problem.message
    assert problem.fix.text.startswith("aws ec2 create-vpc-endpoint --vpc-id vpc-1 --vpc-endpoint-type Interface "
                                  "--service-name com.amazonaws.ap-northeast-1.kms --subnet-ids subnet-a")


def test_a_blocked_kms_endpoint_names_the_hop():
    blocked = groups(encrypted_lab(), sg("sg-endpoints"))  # no inbound 443: every endpoint, kms too
    (problem,) = encryption.check(blocked, "i-1", {"kmsKeyId": KEY_ARN})
    assert problem.code == "KMS_ENDPOINT_UNREACHABLE" and problem.fix.commands == ((
        "aws", "ec2", "authorize-security-group-ingress", "--group-id", "sg-endpoints", "--protocol", "tcp", "--port", "443",
        "--cidr", "10.0.0.0/16"),)  # the same command the doctor gives for ssm


@pytest.mark.parametrize("inline", [
    (),  # the core policy alone: no kms action at all
    (Policy("other-key", {"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt",
                                         "Resource": KEY_ARN.replace("1234abcd", "99999999")}]}),),
    (DECRYPT, Policy("deny", {"Statement": [{"Effect": "Deny", "Action": "kms:*", "Resource": "*"}]})),
    (Policy("only-generate", {"Statement": [{"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": "*"}]}),),
])
def test_a_role_that_may_not_decrypt_with_the_key_is_its_code(inline):
    state = with_role(encrypted_lab(), CORE, inline=inline)
    (problem,) = encryption.check(state, "i-1", {"kmsKeyId": KEY_ARN})
    assert problem.code == "ROLE_MISSING_KMS_PERMISSIONS" and problem.resource == ROLE_ARN
    assert "kms:Decrypt" in problem.message and KEY_ARN in problem.message
    assert problem.fix.text.startswith("aws iam put-role-policy --role-name lab-role --policy-name demo-session-encryption")
    assert json.loads(problem.fix.text.split("'")[1])["Statement"][0]["Resource"] == KEY_ARN


def test_kms_star_on_every_resource_is_enough():
    broad = Policy("broad", {"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]})
    assert codes(encrypted_lab(broad)) == []


@pytest.mark.parametrize("state, fix", [("PendingDeletion", "aws kms cancel-key-deletion"), ("Disabled", "enable-key")])
def test_a_key_that_is_not_enabled_is_its_code(state, fix):
    (problem,) = encryption.check(encrypted_lab(key=replace(KEY, state=state)), "i-1", {"kmsKeyId": ALIAS})
    assert problem.code == "KMS_KEY_NOT_USABLE" and state in problem.message and fix in problem.fix.text


def test_an_alias_the_snapshot_cannot_resolve_counts_any_allow_of_decrypt():
    other = "alias/someone-elses"
    assert codes(encrypted_lab(key=None), other) == []
    assert codes(encrypted_lab(Policy("none", {"Statement": []}), key=None), other) == ["ROLE_MISSING_KMS_PERMISSIONS"]


def test_the_doctor_reports_the_codes_as_errors_and_shows_the_kms_path():
    for code in encryption.CODES:
        assert CODES[code] == "error"
    broken = encrypted_lab(Policy("none", {"Statement": []}), kms_endpoint=False)
    diagnosis = diagnose(broken, "i-1", preferences={"kmsKeyId": KEY_ARN})
    assert {"KMS_ENDPOINT_UNREACHABLE", "ROLE_MISSING_KMS_PERMISSIONS"} <= set(diagnosis.codes("error"))
    assert not diagnosis.paths["kms"].reachable
    assert "kms" not in diagnose(broken, "i-1").paths  # no key named: no kms path, no KMS finding
    assert not [c for c in diagnose(broken, "i-1").codes() if "KMS" in c]


# -- the agent's failure, as the emulator gives it -------------------------------------------------


def test_the_session_fails_in_the_agents_words():
    assert encryption.session_problem(encrypted_lab(), "i-1", KEY_ARN, "Enabled") is None
    denied = encryption.session_problem(encrypted_lab(Policy("none", {"Statement": []})), "i-1", KEY_ARN, "Enabled")
    assert denied.startswith(encryption.DATA_KEY_FAILED + " AccessDeniedException: User: "
                             "arn:aws:sts::123456789012:assumed-role/lab-role/i-1 is not authorized to perform: "
                             f"kms:Decrypt on resource: {KEY_ARN}")
    unreachable = encryption.session_problem(encrypted_lab(kms_endpoint=False), "i-1", KEY_ARN, "Enabled")
    assert "RequestError" in unreachable and "kms.ap-northeast-1.amazonaws.com:443" in unreachable
    assert "KMSInvalidStateException" in encryption.session_problem(encrypted_lab(), "i-1", KEY_ARN, "Disabled")


# -- whose preferences: a kmsKeyId of the lab's makes them the lab's -------------------------------


def test_the_labs_key_makes_the_preferences_its_own():
    text = json.dumps(preferences.content(None, None, KEY_ARN))
    keys = kmskey.owners((KEY,), "demo")
    assert preferences.set_by(text) is None  # a key id says nothing of its lab by itself
    assert preferences.set_by(text, keys) == "demo"
    assert preferences.set_by(json.dumps(preferences.content(None, None, KEY_ID)), keys) == "demo"
    assert kmskey.owners((replace(KEY, tags=()),), "demo") == {}  # a key without the lab's tag is not the lab's
    assert preferences.own_parts(text, "demo", keys) == (None, None, KEY_ARN)
    assert preferences.own_parts(text, "other", keys) == (None, None, None)
    both = json.dumps(preferences.content("/ssmlab/demo/sessions", None, KEY_ARN))
    assert preferences.own_parts(both, "demo") == ("/ssmlab/demo/sessions", None, KEY_ARN)


def test_an_encryption_only_lab_restores_what_it_replaced():
    mine = json.dumps(preferences.content(None, None, KEY_ARN))
    document = PreferencesDocument(preferences.DOCUMENT, (("ssmlab:lab", "demo"),), mine)
    account_own = json.dumps({"schemaVersion": "1.0", "inputs": {"idleSessionTimeout": "60"}})
    saved = (Parameter(preferences.saved_name("demo"), account_own, (("ssmlab:lab", "demo"),)),)
    keys = kmskey.owners((KEY,), "demo")
    outlook = preferences.removal("demo", document, saved, keys)
    assert [c.operation for c in outlook.changes] == ["update_document", "delete_parameter"]
    assert preferences.takeover("demo", document, saved, keys) == ()  # already the lab's: nothing to save again


# -- teardown and status ---------------------------------------------------------------------------


def test_the_key_is_scheduled_for_deletion_then_its_alias_deleted_and_a_pending_key_is_done():
    calls = kmskey.removal((KEY,), "demo")
    assert [(c[2], c[3]) for c in calls] == [
        ("schedule_key_deletion", {"KeyId": KEY_ID, "PendingWindowInDays": 7}), ("delete_alias", {"AliasName": ALIAS})]
    assert "7 days" in calls[0][0] and "7 days" in calls[0][4]
    pending = replace(KEY, state="PendingDeletion")
    assert [c[2] for c in kmskey.removal((pending,), "demo")] == ["delete_alias"]
    assert kmskey.removal((replace(pending, aliases=()),), "demo") == []
    assert kmskey.removal((KEY,), "other") == []  # another lab's key is never touched
    assert kmskey.left((pending,)) == [("KMS alias", ALIAS)] and kmskey.left((replace(pending, aliases=()),)) == []
    assert "scheduled for deletion, not deleted" in kmskey.notes((KEY,), "demo")[0]


def test_status_shows_the_encryption_step_only_when_part_of_it_exists():
    assert "session-encryption" not in [s.step for s in status.lab_status(private_lab())]
    tagged = endpoints(encrypted_lab(), replace(endpoint("kms"), tags=LAB_TAGS))  # status counts the lab's own
    complete = replace(tagged, session_preferences=preferences.content(None, None, KEY_ARN)["inputs"])
    row = {s.step: s for s in status.lab_status(complete)}["session-encryption"]
    assert row.status == status.COMPLETE and ALIAS in row.detail and "kmsKeyId is this key" in row.detail
    restored = {s.step: s for s in status.lab_status(tagged)}["session-encryption"]
    assert restored.status == status.PARTIAL and "names no key of this lab's" in restored.detail


def test_the_step_is_built_when_asked_for_with_or_without_logging_and_prices_the_kms_endpoint():
    from ssmlab import build
    from ssmlab.errors import BadInput

    core = ("network", "security-groups", "endpoints", "iam", "instance")
    assert build.steps_to_run(None, build.BuildOptions()) == core
    assert build.steps_to_run(None, build.BuildOptions(session_encryption=True)) == core + ("session-encryption",)
    both = build.BuildOptions(session_logging=("s3",), session_encryption=True)
    assert build.steps_to_run(None, both) == core + ("session-logging", "session-encryption")
    assert build.steps_to_run("session-encryption", build.BuildOptions()) == core + ("session-encryption",)
    assert build.steps_to_run("session-logging", both) == core + ("session-logging",)
    assert build.interface_endpoints(build.steps_to_run(None, both), both) == ("ssm", "ssmmessages", "kms")
    with pytest.raises(BadInput, match="invalid session_encryption 'yes': expected True or False"):
        build.validate(None, build.BuildOptions(session_encryption="yes"))
