"""`ssmlab status` is a pure function of a hand-built LabState."""

from dataclasses import replace

from ssmlab import preferences
from ssmlab.model import Imds, Instance, InstanceProfile, LabState, Policy, Role, RouteTable, Route, SecurityGroup, Subnet, Vpc, VpcEndpoint
from ssmlab.render import status_table
from ssmlab.status import lab_status

LAB = (("Name", "demo-x"), ("ssmlab:lab", "demo"))
OTHER = (("ssmlab:lab", "other"),)


def endpoint(service, private_dns=True, state="available", kind="Interface", tags=LAB):
    return VpcEndpoint(
        endpoint_id=f"vpce-{service}", vpc_id="vpc-1", service_name=f"com.amazonaws.ap-northeast-1.{service}",
        endpoint_type=kind, state=state, private_dns=private_dns, subnet_ids=("subnet-1",), group_ids=("sg-e",),
        route_table_ids=(), network_interface_ids=(), dns_names=(), tags=tags,
    )


def complete_state(**changes):
    base = dict(
        region="ap-northeast-1",
        lab="demo",
        vpcs=(Vpc("vpc-1", "10.0.0.0/16", True, True, tags=LAB),),
        subnets=(Subnet("subnet-1", "vpc-1", "10.0.0.0/24", "ap-northeast-1a", tags=LAB),),
        route_tables=(
            RouteTable("rtb-main", "vpc-1", True, (), (Route("10.0.0.0/16", "local"),)),
            RouteTable("rtb-1", "vpc-1", False, ("subnet-1",), (Route("10.0.0.0/16", "local"),), tags=LAB),
        ),
        security_groups=(
            SecurityGroup("sg-e", "demo-endpoints", "vpc-1", "", (), (), tags=LAB),
            SecurityGroup("sg-i", "demo-instance", "vpc-1", "", (), (), tags=LAB),
            SecurityGroup("sg-d", "default", "vpc-1", "", (), ()),
        ),
        endpoints=tuple(endpoint(s) for s in ("ssm", "ssmmessages", "ec2messages")),
        instances=(
            Instance(
                "i-1", "running", "vpc-1", "subnet-1", "10.0.0.5", None, "ami-1", "t3.micro", ("sg-i",),
                "arn:aws:iam::1:instance-profile/ssmlab/demo-ssm-instance-profile", Imds("enabled", "required", 2),
                "/dev/xvda", (), tags=LAB,
            ),
        ),
        instance_profiles=(InstanceProfile("demo-ssm-instance-profile", "arn:p", ("demo-ssm-instance-role",)),),
        roles=(Role("demo-ssm-instance-role", "arn:r", {}, (Policy("AmazonSSMManagedInstanceCore", {}, "arn:m"),)),),
    )
    base.update(changes)
    return LabState(**base)


def statuses(state):
    return {s.step: s.status for s in lab_status(state)}


def test_a_complete_lab_is_complete_except_the_optional_logging():
    assert statuses(complete_state()) == {
        "network": "complete", "security-groups": "complete", "endpoints": "complete",
        "iam": "complete", "instance": "complete", "session-logging": "missing",
    }


def test_an_empty_state_is_missing_everywhere():
    assert set(statuses(LabState(region="ap-northeast-1", lab="demo")).values()) == {"missing"}


def test_dns_hostnames_off_makes_the_network_partial_and_says_so():
    state = complete_state(vpcs=(Vpc("vpc-1", "10.0.0.0/16", True, False, tags=LAB),))
    network = lab_status(state)[0]
    assert network.status == "partial"
    assert "hostnames OFF" in network.detail


def test_endpoints_partial_without_private_dns_and_complete_without_ec2messages():
    off = complete_state(endpoints=(endpoint("ssm", private_dns=False), endpoint("ssmmessages")))
    assert statuses(off)["endpoints"] == "partial"
    skipped = complete_state(endpoints=(endpoint("ssm"), endpoint("ssmmessages")))
    endpoints = lab_status(skipped)[2]
    assert endpoints.status == "complete"
    assert "no ec2messages (only agents older than 3.3.40.0 need it" in endpoints.detail


def test_other_labs_resources_are_not_counted():
    state = complete_state(endpoints=tuple(endpoint(s, tags=OTHER) for s in ("ssm", "ssmmessages")))
    assert statuses(state)["endpoints"] == "missing"


def test_stopped_instance_and_missing_profile_role_are_partial():
    state = complete_state(
        instances=(
            Instance("i-1", "stopped", "vpc-1", "subnet-1", "10.0.0.5", None, "ami-1", "t3.micro", (), None,
                     Imds("disabled", "optional"), None, (), tags=LAB),
        ),
        instance_profiles=(InstanceProfile("demo-ssm-instance-profile", "arn:p", ()),),
    )
    s = {x.step: x for x in lab_status(state)}
    assert s["instance"].status == "partial" and "IMDS disabled" in s["instance"].detail
    assert s["iam"].status == "partial" and "no role" in s["iam"].detail


def test_session_logging_is_complete_only_while_the_regions_preferences_are_the_labs():
    endpoints = complete_state().endpoints + (endpoint("logs"), endpoint("s3", kind="Gateway"))
    mine = preferences.content("/ssmlab/demo/sessions", None)["inputs"]
    assert statuses(complete_state(endpoints=endpoints, session_preferences=mine))["session-logging"] == "complete"
    theirs = preferences.content("/ssmlab/other/sessions", None)["inputs"]
    s = {x.step: x for x in lab_status(complete_state(endpoints=endpoints, session_preferences=theirs))}
    assert s["session-logging"].status == "partial" and "lab other's" in s["session-logging"].detail
    gone = {x.step: x for x in lab_status(complete_state(endpoints=endpoints))}
    assert gone["session-logging"].status == "partial" and "sessions are not logged" in gone["session-logging"].detail


def test_a_lab_that_exists_twice_is_marked_duplicate_with_the_way_out():
    base = complete_state()
    twice = complete_state(
        vpcs=base.vpcs + (Vpc("vpc-2", "10.0.0.0/16", True, True, tags=LAB),),
        instances=base.instances + (replace(base.instances[0], instance_id="i-2"),),
        endpoints=base.endpoints + (replace(endpoint("ssm"), endpoint_id="vpce-ssm-2"),),
    )
    s = {x.step: x for x in lab_status(twice)}
    assert s["network"].status == "duplicate" and "2 x VPC (vpc-1, vpc-2)" in s["network"].detail
    assert "ssmlab cleanup --lab demo" in s["network"].detail
    assert s["instance"].status == "duplicate" and "i-1, i-2" in s["instance"].detail
    assert s["endpoints"].status == "duplicate" and "ssm (interface)" in s["endpoints"].detail
    assert s["security-groups"].status == "complete"
    assert "2x  network" in status_table(lab_status(twice))
    # an extra instance with a Name of its own (08's instance without a profile) is no duplicate
    extra = complete_state(instances=base.instances + (replace(base.instances[0], instance_id="i-9",
                                                               tags=(("Name", "demo-late-profile"), ("ssmlab:lab", "demo"))),))
    assert statuses(extra)["instance"] == "complete"


def test_ids_in_the_table_stay_whole_whatever_the_terminal_width(monkeypatch):
    base = complete_state()
    twice = complete_state(vpcs=base.vpcs + (Vpc("vpc-fb78720cd6b16619b", "10.0.0.0/16", True, True, tags=LAB),))
    for columns in range(60, 161):  # at some widths textwrap's default broke "vpc-" from the rest of the id
        monkeypatch.setenv("COLUMNS", str(columns))
        table = status_table(lab_status(twice))
        assert "vpc-fb78720cd6b16619b" in table and not any(line.rstrip().endswith("vpc-") for line in table.splitlines())


def test_the_table_has_one_row_per_step_with_its_mark():
    table = status_table(lab_status(complete_state()))
    assert table.count("\n  ok  ") == 5
    assert "--  session-logging" in table


def test_the_endpoint_listing_leaves_out_deleted_endpoints():
    from ssmlab.render import endpoints_text

    listed = complete_state(endpoints=(endpoint("ssm"), endpoint("ssmmessages"),
                                       replace(endpoint("ssm"), endpoint_id="vpce-old", state="deleted")))
    text = endpoints_text(listed)
    assert "vpce-old" not in text and len(text.splitlines()) == 2
    assert text.splitlines()[0].startswith("ssm          vpce-ssm interface, available, private DNS on")
