"""teardown.plan on hand-built LabResources: AWS's dependency order, only what carries the lab's tag."""

from __future__ import annotations

from datetime import timedelta

import pytest

from builders import ALICE, ALICES, ALICES_PREFERENCES, BOBS_PREFERENCES, lab_resources
from ssmlab import obstacles, teardown
from ssmlab.errors import BadInput
from ssmlab.model import FoundLab, LabResources, NetworkInterface, Parameter, PreferencesDocument


def ids(deletions, operation: str) -> list[str]:
    return [d.resource_id for d in deletions if d.operation == operation]


def test_nothing_to_delete_gives_an_empty_plan():
    assert teardown.plan(LabResources(lab=ALICE, region="eu-west-1")) == []
    assert LabResources(lab=ALICE, region="eu-west-1").empty


def test_the_steps_come_in_aws_dependency_order():
    deletions = teardown.plan(lab_resources())
    positions = [teardown.STEPS.index(d.step) for d in deletions]
    assert positions == sorted(positions)
    first = {}
    for n, d in enumerate(deletions):
        first.setdefault(d.operation, n)
    order = ["terminate_session", "terminate_instances", "delete_objects", "delete_bucket", "delete_vpc_endpoints",
             "delete_instance_connect_endpoint", "delete_network_interface", "revoke_security_group_ingress",
             "delete_security_group", "delete_subnet", "delete_route_table", "delete_network_acl", "delete_vpc",
             "remove_role_from_instance_profile", "delete_instance_profile", "detach_role_policy", "delete_role_policy",
             "delete_role"]
    assert [first[o] for o in order] == sorted(first[o] for o in order)
    assert [d for d in deletions if d.operation == "delete_role"] == deletions[-1:]


def test_only_what_carries_the_labs_tag_is_planned():
    deletions = teardown.plan(lab_resources())
    touched = " ".join(str(d.params) for d in deletions)
    for foreign in ("vpc-default", "vpc-bob", "sg-bob", "sg-default", "i-bob", "vpce-bob", "subnet-untagged",
                    "rtb-main", "acl-default", "i-old", "eni-vpce", "alice-x-ssm-instance-profile", "alice-untagged-role"):
        assert foreign not in touched, foreign
    assert ids(deletions, "terminate_instances") == ["i-1"]
    assert ids(deletions, "delete_vpc") == ["vpc-1"]
    assert ids(deletions, "delete_route_table") == ["rtb-1"]
    assert ids(deletions, "delete_network_acl") == ["acl-1"]


def test_calls_are_data_with_their_arguments_and_reasons():
    deletions = teardown.plan(lab_resources())
    terminate = next(d for d in deletions if d.operation == "terminate_instances")
    assert (terminate.service, terminate.params, terminate.wait) == ("ec2", {"InstanceIds": ["i-1"]}, "instance_terminated")
    endpoint_deletions = [d for d in deletions if d.operation == "delete_vpc_endpoints"]
    assert {d.wait for d in endpoint_deletions} == {"vpc_endpoint_gone"}
    assert all(d.why for d in deletions)
    revoke = next(d for d in deletions if d.operation == "revoke_security_group_ingress")
    assert revoke.params == {"GroupId": "sg-e", "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": "sg-i"}]}]}
    assert teardown.plan(lab_resources()) == deletions  # pure: the same input, the same plan
    hash(deletions[0])


def test_the_bucket_is_emptied_of_every_version_in_batches_of_1000_before_it_is_deleted():
    deletions = teardown.plan(lab_resources())
    empties = [d for d in deletions if d.operation == "delete_objects"]
    assert [len(d.params["Delete"]["Objects"]) for d in empties] == [1000, 500]
    assert empties[0].params["Delete"]["Objects"][0] == {"Key": "sessions/0", "VersionId": "v0"}
    assert deletions.index(empties[-1]) < next(n for n, d in enumerate(deletions) if d.operation == "delete_bucket")


def test_preferences_are_restored_from_the_backup_else_deleted_only_when_the_lab_created_them():
    created = teardown.plan(lab_resources())
    assert ids(created, "delete_document") == ["SSM-SessionManagerRunShell"]

    backup = Parameter("/kit/ssmlab/alice/previous-session-preferences", '{"old": true}', ALICES)
    set_over_someone_elses = PreferencesDocument("SSM-SessionManagerRunShell", (), ALICES_PREFERENCES)
    restored = teardown.plan(lab_resources(preferences=set_over_someone_elses, backup_parameter=backup))
    update = next(d for d in restored if d.operation == "update_document")
    assert update.params["Content"] == '{"old": true}'
    assert ids(restored, "delete_document") == []
    assert restored.index(update) < next(n for n, d in enumerate(restored) if d.operation == "delete_parameter")

    someone_elses = PreferencesDocument("SSM-SessionManagerRunShell", (), BOBS_PREFERENCES)
    untouched = teardown.plan(lab_resources(preferences=someone_elses))
    assert not [d for d in untouched if d.service == "ssm" and d.operation != "terminate_session"]


def test_preferences_a_later_lab_relies_on_are_left_with_a_note():
    # alice created them, bob set his own over alice's: removing alice neither deletes nor restores them.
    bobs = PreferencesDocument("SSM-SessionManagerRunShell", ALICES, BOBS_PREFERENCES)
    bob_saved = Parameter("/kit/ssmlab/bob/previous-session-preferences", ALICES_PREFERENCES)
    resources = lab_resources(preferences=bobs, saved_preferences=(bob_saved,))
    deletions = teardown.plan(resources)
    assert ids(deletions, "delete_document") == [] and ids(deletions, "update_document") == []
    assert any("lab bob's preferences" in note and "left as it is" in note for note in obstacles.notes(resources))


def test_leftovers_list_what_the_audit_would_report():
    left = teardown.leftovers(lab_resources())
    kinds = {x.kind for x in left}
    assert {"VPC", "instance", "role", "bucket", "log group", "preferences document"} <= kinds
    assert teardown.leftovers(LabResources(lab=ALICE, region="eu-west-1")) == []


@pytest.mark.parametrize("text, expected", [("30m", timedelta(minutes=30)), ("3h", timedelta(hours=3)),
                                            ("2d", timedelta(days=2)), ("0m", timedelta(0))])
def test_durations(text, expected):
    assert teardown.parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "3", "h", "3 hours", "-1h", "1.5h", "2w"])
def test_bad_durations_name_the_value_and_the_form(text):
    with pytest.raises(BadInput, match=r"invalid duration .*30m, 3h, 2d"):
        teardown.parse_duration(text)


def test_labs_are_removed_by_age_and_never_when_their_age_is_unknown():
    from datetime import datetime, timezone

    now = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
    old = FoundLab("old", now - timedelta(hours=5))
    young = FoundLab("young", now - timedelta(minutes=10))
    bare = FoundLab("bare", None)
    three_hours = teardown.parse_duration("3h")
    assert [f.name for f in (old, young, bare) if f.older_than(three_hours, now)] == ["old"]
    assert [f.name for f in (old, young, bare) if f.older_than(timedelta(0), now)] == ["old", "young"]


def test_someone_elses_preferences_document_does_not_make_a_lab_non_empty():
    foreign = PreferencesDocument("SSM-SessionManagerRunShell", (), "{}")
    assert LabResources(lab=ALICE, region="eu-west-1", preferences=foreign).empty
    assert teardown.plan(LabResources(lab=ALICE, region="eu-west-1", preferences=foreign)) == []
    assert not LabResources(lab=ALICE, region="eu-west-1", preferences=PreferencesDocument("SSM-SessionManagerRunShell", ALICES)).empty


def test_an_untagged_instance_in_the_labs_subnet_is_named_as_what_blocks_the_network():
    theirs = NetworkInterface("eni-theirs", "subnet-1", "vpc-1", "10.0.0.20", ("sg-i",), "interface", False,
                              instance_id="i-theirs")
    ours = NetworkInterface("eni-ours", "subnet-1", "vpc-1", "10.0.0.4", ("sg-i",), "interface", False, instance_id="i-1")
    endpoint_eni = NetworkInterface("eni-ssm", "subnet-1", "vpc-1", "10.0.0.5", ("sg-e",), "vpc_endpoint", True)
    resources = lab_resources(network_interfaces=(theirs, ours, endpoint_eni))
    deletions = {d.resource_id: d for d in teardown.plan(resources)}
    assert deletions["subnet-1"].blocked_by == ("instance i-theirs",)
    assert deletions["vpc-1"].blocked_by == ("instance i-theirs",)
    assert deletions["sg-i (alice-instance)"].blocked_by == ("instance i-theirs",)
    assert deletions["sg-e (alice-endpoints)"].blocked_by == ()
    assert deletions["rtb-1"].blocked_by == ("instance i-theirs",)  # its subnet stays, so its association does
    note = obstacles.notes(resources)[0]
    assert "instance i-theirs is not lab alice's" in note and "aws ec2 terminate-instances --instance-ids i-theirs" in note
    assert "subnet-1" in note and "sg-i" in note and "vpc-1" in note
    assert obstacles.notes(lab_resources(network_interfaces=(ours, endpoint_eni))) == []
