"""`ssmlab status` is a pure function of a hand-built LabState (`builders.kit_lab`: the lab as the build leaves it,
every resource tagged; `tagged` marks what a test adds as the lab's)."""

from dataclasses import replace

from builders import LAB_TAGS, endpoint, instance, kit_lab, tagged
from ssmlab import preferences
from ssmlab.model import Imds, LabState, Vpc
from ssmlab.render import status_table
from ssmlab.status import lab_status


def statuses(state):
    return {s.step: s.status for s in lab_status(state)}


def test_a_complete_lab_is_complete_except_the_optional_logging():
    assert statuses(kit_lab()) == {
        "network": "complete", "security-groups": "complete", "endpoints": "complete",
        "iam": "complete", "instance": "complete", "session-logging": "missing",
    }


def test_an_empty_state_is_missing_everywhere():
    assert set(statuses(LabState(region="ap-northeast-1", lab="demo")).values()) == {"missing"}


def test_dns_hostnames_off_makes_the_network_partial_and_says_so():
    state = kit_lab(vpcs=(tagged(Vpc("vpc-1", "10.0.0.0/16", True, False)),))
    network = lab_status(state)[0]
    assert network.status == "partial"
    assert "hostnames OFF" in network.detail


def test_endpoints_partial_without_private_dns_and_complete_without_ec2messages():
    off = kit_lab(endpoints=(tagged(endpoint("ssm", private_dns=False)), tagged(endpoint("ssmmessages"))))
    assert statuses(off)["endpoints"] == "partial"
    skipped = kit_lab(endpoints=(tagged(endpoint("ssm")), tagged(endpoint("ssmmessages"))))
    endpoints = lab_status(skipped)[2]
    assert endpoints.status == "complete"
    assert "no ec2messages (only agents older than 3.3.40.0 need it" in endpoints.detail


def test_other_labs_resources_are_not_counted():
    state = kit_lab(endpoints=tuple(tagged(endpoint(s), "other") for s in ("ssm", "ssmmessages")))
    assert statuses(state)["endpoints"] == "missing"


def test_stopped_instance_and_missing_profile_role_are_partial():
    state = kit_lab(
        instances=(tagged(instance(state="stopped", groups=(), profile_arn=None, imds=Imds("disabled", "optional"))),),
        instance_profiles=(replace(kit_lab().instance_profiles[0], role_names=()),),
    )
    s = {x.step: x for x in lab_status(state)}
    assert s["instance"].status == "partial" and "IMDS disabled" in s["instance"].detail
    assert s["iam"].status == "partial" and "no role" in s["iam"].detail


def test_session_logging_is_complete_only_while_the_regions_preferences_are_the_labs():
    endpoints = kit_lab().endpoints + (tagged(endpoint("logs")), tagged(endpoint("s3", kind="Gateway")))
    mine = preferences.content("/ssmlab/demo/sessions", None)["inputs"]
    assert statuses(kit_lab(endpoints=endpoints, session_preferences=mine))["session-logging"] == "complete"
    theirs = preferences.content("/ssmlab/other/sessions", None)["inputs"]
    s = {x.step: x for x in lab_status(kit_lab(endpoints=endpoints, session_preferences=theirs))}
    assert s["session-logging"].status == "partial" and "lab other's" in s["session-logging"].detail
    gone = {x.step: x for x in lab_status(kit_lab(endpoints=endpoints))}
    assert gone["session-logging"].status == "partial" and "sessions are not logged" in gone["session-logging"].detail


def test_a_lab_that_exists_twice_is_marked_duplicate_with_the_way_out():
    base = kit_lab()
    twice = kit_lab(
        vpcs=base.vpcs + (tagged(Vpc("vpc-2", "10.0.0.0/16", True, True)),),
        instances=base.instances + (replace(base.instances[0], instance_id="i-2"),),
        endpoints=base.endpoints + (replace(tagged(endpoint("ssm")), endpoint_id="vpce-ssm-2"),),
    )
    s = {x.step: x for x in lab_status(twice)}
    assert s["network"].status == "duplicate" and "2 x VPC (vpc-1, vpc-2)" in s["network"].detail
    assert "ssmlab cleanup --lab demo" in s["network"].detail
    assert s["instance"].status == "duplicate" and "i-1, i-2" in s["instance"].detail
    assert s["endpoints"].status == "duplicate" and "ssm (interface)" in s["endpoints"].detail
    assert s["security-groups"].status == "complete"
    assert "2x  network" in status_table(lab_status(twice))
    # an extra instance with a Name of its own (09's instance without a profile) is no duplicate
    extra = kit_lab(instances=base.instances + (replace(base.instances[0], instance_id="i-9",
                                                               tags=(("Name", "demo-late-profile"), LAB_TAGS[1])),))
    assert statuses(extra)["instance"] == "complete"


def test_ids_in_the_table_stay_whole_whatever_the_terminal_width(monkeypatch):
    base = kit_lab()
    twice = kit_lab(vpcs=base.vpcs + (tagged(Vpc("vpc-fb78720cd6b16619b", "10.0.0.0/16", True, True)),))
    for columns in range(60, 161):  # at some widths textwrap's default broke "vpc-" from the rest of the id
        monkeypatch.setenv("COLUMNS", str(columns))
        table = status_table(lab_status(twice))
        assert "vpc-fb78720cd6b16619b" in table and not any(line.rstrip().endswith("vpc-") for line in table.splitlines())


def test_the_table_has_one_row_per_step_with_its_mark():
    table = status_table(lab_status(kit_lab()))
    assert table.count("\n  ok  ") == 5
    assert "--  session-logging" in table


def test_the_endpoint_listing_leaves_out_deleted_endpoints():
    from ssmlab.render import endpoints_text

    listed = kit_lab(endpoints=(tagged(endpoint("ssm")), tagged(endpoint("ssmmessages")),
                                replace(tagged(endpoint("ssm")), endpoint_id="vpce-old", state="deleted")))
    text = endpoints_text(listed)
    assert "vpce-old" not in text and len(text.splitlines()) == 2
    assert text.splitlines()[0].startswith("ssm          vpce-ssm interface, available, private DNS on")
