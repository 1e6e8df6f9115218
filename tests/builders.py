"""Hand-built inputs for the pure tests: a lab's state, its resources for teardown, an agent's assessment, a notebook.

`private_lab()` is the lab ssmlab builds as the rules (netpath, policy, registration, doctor, diagram, cost)
see it: VPC 10.0.0.0/16 with both DNS attributes on, subnets 10.0.0.0/24 and 10.0.1.0/24, a route table
with only the local route, endpoint SG in 443 from the VPC, instance SG out 443 to the VPC, three interface
endpoints with private DNS and one ENI each at 10.0.0.x, the default allow-all NACL, an instance with its
profile and a role holding AmazonSSMManagedInstanceCore. The variants change one thing each.
`kit_lab()` is the same lab as the build leaves it, every resource carrying the lab's tag (what `status`
counts); `lab_resources()` what teardown reads of lab alice, beside another lab's and untagged look-alikes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from moto.iam.aws_managed_policies import aws_managed_policies_data

from ssmlab import preferences
from ssmlab.model import (
    TAG_KEY, Bucket, EicEndpoint, IamProfile, IamRole, Imds, Instance, InstanceProfile, LabResources, LabState,
    LogGroup, NaclEntry, NetworkAcl, NetworkInterface, Policy, PrefixList, PreferencesDocument, Role, Route,
    RouteTable, SecurityGroup, SgRule, Subnet, Vpc, VpcEndpoint,
)

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
S3_PL = PrefixList("pl-61a54008", f"com.amazonaws.{REGION}.s3", ("52.219.0.0/20", "3.5.156.0/22"))
CORP_PL = PrefixList("pl-corp", "corporate-networks", ("10.0.0.0/8", "192.168.0.0/16"))
OTHER_PL = PrefixList("pl-other", "elsewhere", ("172.16.0.0/12",))
SERVICES = ("ssm", "ssmmessages", "ec2messages")
CORE = Policy(
    "AmazonSSMManagedInstanceCore",
    json.loads(aws_managed_policies_data)["AmazonSSMManagedInstanceCore"]["Document"],
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
)
EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
PROFILE_ARN = f"arn:aws:iam::{ACCOUNT}:instance-profile/lab-profile"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/lab-role"


# -- the lab as the rules see it (LabState) ------------------------------------------------------------

def https(cidr=None, *, pl=None, group=None, protocol="tcp", ports=(443, 443)):
    return SgRule(protocol, ports[0], ports[1], cidr=cidr, prefix_list_id=pl, source_group_id=group)


def sg(group_id, ingress=(), egress=()):
    return SecurityGroup(group_id, group_id, "vpc-1", "", tuple(ingress), tuple(egress))


def entry(n, egress, action="allow", cidr="0.0.0.0/0", protocol="-1", ports=(None, None)):
    return NaclEntry(n, egress, protocol, action, cidr, ports[0], ports[1])


ALLOW_ALL = (entry(100, False), entry(32767, False, "deny"), entry(100, True), entry(32767, True, "deny"))


def acl(acl_id, subnets, entries=ALLOW_ALL, default=False):
    return NetworkAcl(acl_id, "vpc-1", default, tuple(subnets), tuple(entries))


def endpoint(service, *, subnets=("subnet-a",), enis=None, private_dns=True, state="available", groups=("sg-endpoints",),
             kind="Interface", route_tables=(), endpoint_id=None, tags=()):
    return VpcEndpoint(
        endpoint_id=endpoint_id or f"vpce-{service}", vpc_id="vpc-1", service_name=f"com.amazonaws.{REGION}.{service}",
        endpoint_type=kind, state=state, private_dns=private_dns if kind == "Interface" else False,
        subnet_ids=tuple(subnets) if kind == "Interface" else (), group_ids=tuple(groups) if kind == "Interface" else (),
        route_table_ids=tuple(route_tables), network_interface_ids=tuple(enis if enis is not None else [f"eni-{service}"])
        if kind == "Interface" else (), dns_names=(), tags=tuple(tags),
    )


def eni(eni_id, subnet, ip, groups=("sg-endpoints",)):
    return NetworkInterface(eni_id, subnet, "vpc-1", ip, tuple(groups), "vpc_endpoint", True)


def instance(subnet="subnet-a", ip="10.0.0.5", state="running", public_ip=None, groups=("sg-instance",), **changes):
    base = dict(
        instance_id="i-1", state=state, vpc_id="vpc-1", subnet_id=subnet, private_ip=ip, public_ip=public_ip,
        image_id="ami-1", instance_type="t3.micro", group_ids=tuple(groups), profile_arn=PROFILE_ARN,
        imds=Imds("enabled", "required", 2), root_device="/dev/xvda", volumes=(),
    )
    base.update(changes)
    return Instance(**base)


def private_lab(**changes) -> LabState:
    base = dict(
        region=REGION,
        lab="demo",
        vpcs=(Vpc("vpc-1", "10.0.0.0/16", True, True),),
        subnets=(
            Subnet("subnet-a", "vpc-1", "10.0.0.0/24", f"{REGION}a"),
            Subnet("subnet-b", "vpc-1", "10.0.1.0/24", f"{REGION}c"),
        ),
        route_tables=(RouteTable("rtb-1", "vpc-1", True, ("subnet-a", "subnet-b"), (Route("10.0.0.0/16", "local"),)),),
        network_acls=(acl("acl-default", ("subnet-a", "subnet-b"), default=True),),
        security_groups=(
            sg("sg-endpoints", ingress=[https("10.0.0.0/16")]),
            sg("sg-instance", egress=[https("10.0.0.0/16")]),
        ),
        endpoints=tuple(endpoint(s) for s in SERVICES),
        network_interfaces=tuple(eni(f"eni-{s}", "subnet-a", f"10.0.0.{10 + i}") for i, s in enumerate(SERVICES)),
        prefix_lists=(CORP_PL, OTHER_PL),
        instances=(instance(),),
        instance_profiles=(InstanceProfile("lab-profile", PROFILE_ARN, ("lab-role",)),),
        roles=(Role("lab-role", ROLE_ARN, EC2_TRUST, (CORE,)),),
    )
    base.update(changes)
    return LabState(**base)


# -- variants: each changes one thing ---------------------------------------------------------------

def with_role(state, *policies, trust=EC2_TRUST, inline=()):
    """The instance's role with these managed policies (and `inline` ones), trusting `trust`."""
    return replace(state, roles=(Role("lab-role", ROLE_ARN, trust, tuple(policies), tuple(inline)),))


def groups(state, *changed):
    by_id = {g.group_id: g for g in state.security_groups}
    by_id.update({g.group_id: g for g in changed})
    return replace(state, security_groups=tuple(by_id.values()))


def endpoints(state, *changed, drop=()):
    by_id = {e.endpoint_id: e for e in state.endpoints}
    by_id.update({e.endpoint_id: e for e in changed})
    return replace(state, endpoints=tuple(e for i, e in by_id.items() if i not in drop))


def instance_in_b(state, **changes):
    """The instance moves to subnet-b (10.0.1.0/24), so its traffic to the ENIs in subnet-a crosses NACLs."""
    return replace(state, instances=(instance("subnet-b", "10.0.1.5", **changes),))


def nacl_entries(state, *entries):
    """One custom NACL shared by both subnets."""
    return replace(state, network_acls=(acl("acl-custom", ("subnet-a", "subnet-b"), entries),))


def instance_nacl(state, *entries):
    """A custom NACL on subnet-b only (the instance's once moved there); subnet-a keeps allow-all."""
    return replace(state, network_acls=(acl("acl-custom", ("subnet-b",), entries), acl("acl-default", ("subnet-a",), default=True)))


def split_nacls(state, endpoint_entries):
    """subnet-b (the instance's) keeps allow-all; subnet-a (the endpoints') gets its own NACL."""
    return replace(state, network_acls=(acl("acl-instance", ("subnet-b",)), acl("acl-endpoints", ("subnet-a",), endpoint_entries)))


def public_lab(route_target="igw-1", public_ip="54.1.2.3", egress=(https("0.0.0.0/0"),), **changes):
    state = private_lab(
        endpoints=(), network_interfaces=(),
        route_tables=(RouteTable("rtb-1", "vpc-1", True, ("subnet-a",),
                                 (Route("10.0.0.0/16", "local"), Route("0.0.0.0/0", route_target))),),
        **changes,
    )
    return groups(replace(state, instances=(instance(public_ip=public_ip),)), sg("sg-instance", egress=egress))


def s3_gateway_lab(egress=(https("10.0.0.0/16"), https(pl=S3_PL.prefix_list_id)), with_prefix_list=True):
    state = private_lab()
    table = RouteTable("rtb-1", "vpc-1", True, ("subnet-a", "subnet-b"),
                       (Route("10.0.0.0/16", "local"), Route(S3_PL.prefix_list_id, "vpce-s3")))
    state = replace(
        state, route_tables=(table,),
        prefix_lists=state.prefix_lists + ((S3_PL,) if with_prefix_list else ()),
        endpoints=state.endpoints + (endpoint("s3", kind="Gateway", route_tables=("rtb-1",)),),
    )
    return groups(state, sg("sg-instance", egress=egress))


RETURN_ONLY = lambda lo, hi: (  # noqa: E731 - NACL allowing 443 out and only ports lo-hi back in
    entry(100, True, protocol="6", ports=(443, 443)), entry(32767, True, "deny"),
    entry(100, False, protocol="6", ports=(lo, hi)), entry(32767, False, "deny"),
)


# -- the lab as the build leaves it: everything tagged (what status counts) -------------------------------

LAB = "demo"
LAB_TAGS = (("Name", f"{LAB}-x"), (TAG_KEY, LAB))


def tagged(resource, lab=LAB):
    """`resource` carrying `lab`'s tag (and a Name), as the kit tags what it creates."""
    return replace(resource, tags=(("Name", f"{lab}-x"), (TAG_KEY, lab)))


def kit_lab(**changes) -> LabState:
    """`private_lab` as the build leaves it: each resource tagged, the groups named as the kit names them, and
    the subnets on a route table of the lab's own beside the VPC's main one."""
    base = private_lab()
    table = base.route_tables[0]
    built = dict(
        vpcs=tuple(tagged(v) for v in base.vpcs),
        subnets=tuple(tagged(s) for s in base.subnets),
        route_tables=(replace(table, route_table_id="rtb-main", subnet_ids=()),
                      tagged(replace(table, main=False))),
        security_groups=(tagged(replace(sg("sg-endpoints", ingress=[https("10.0.0.0/16")]), name=f"{LAB}-endpoints")),
                         tagged(replace(sg("sg-instance", egress=[https("10.0.0.0/16")]), name=f"{LAB}-instance")),
                         replace(sg("sg-default"), name="default")),
        endpoints=tuple(tagged(e) for e in base.endpoints),
        instances=tuple(tagged(i) for i in base.instances),
    )
    built.update(changes)
    return replace(base, **built)


# -- what teardown reads: lab alice's resources, beside bob's and untagged look-alikes ------------------------

ALICE = "alice"
ALICES = (("Name", "x"), (TAG_KEY, ALICE))
BOBS = ((TAG_KEY, "bob"),)
ALICES_PREFERENCES = json.dumps(preferences.content(f"/ssmlab/{ALICE}/sessions", "ssmlab-alice-123456789012-eu-west-1"))
BOBS_PREFERENCES = json.dumps(preferences.content("/ssmlab/bob/sessions", None))


def alices(instance_id, tags=ALICES, state="running") -> Instance:
    """An instance in alice's subnet (bob's too, or terminated, by the arguments)."""
    return instance("subnet-1", "10.0.0.4", state, groups=("sg-i",), instance_id=instance_id, profile_arn=None,
                    imds=Imds("enabled", "required"), tags=tags)


def lab_resources(**changes) -> LabResources:
    """Everything of lab alice in eu-west-1 that teardown removes — a session, an instance, session logging (a
    bucket of 1,500 object versions), endpoints, an EC2 Instance Connect Endpoint, a detached interface, groups
    (one referencing the other), subnet, tables, ACLs, VPC, profile and role — beside the default VPC, bob's VPC,
    group, instance and endpoint, an untagged subnet and role, a terminated instance and alice-x's profile."""
    def group(group_id, name, tags=ALICES, ingress=()):
        return SecurityGroup(group_id, name, "vpc-1", "", tuple(ingress), (), tags)

    base = dict(
        lab=ALICE,
        region="eu-west-1",
        vpcs=(Vpc("vpc-1", "10.0.0.0/16", True, True, tags=ALICES), Vpc("vpc-default", "172.31.0.0/16", True, True, True),
              Vpc("vpc-bob", "10.1.0.0/16", True, True, tags=BOBS)),
        subnets=(Subnet("subnet-1", "vpc-1", "10.0.0.0/24", "eu-west-1a", tags=ALICES),
                 Subnet("subnet-untagged", "vpc-1", "10.0.1.0/24", "eu-west-1a")),
        route_tables=(RouteTable("rtb-1", "vpc-1", False, ("subnet-1",), (), ALICES),
                      RouteTable("rtb-main", "vpc-1", True, (), (), ALICES)),
        network_acls=(NetworkAcl("acl-1", "vpc-1", False, (), (), ALICES),
                      NetworkAcl("acl-default", "vpc-1", True, (), (), ALICES)),
        security_groups=(
            group("sg-e", f"{ALICE}-endpoints", ingress=[SgRule("tcp", 443, 443, source_group_id="sg-i")]),
            group("sg-i", f"{ALICE}-instance"),
            group("sg-default", "default"),
            group("sg-bob", "bob-instance", tags=BOBS),
        ),
        endpoints=tuple(endpoint(service, subnets=("subnet-1",), groups=("sg-e",), kind=kind, endpoint_id=endpoint_id,
                                 enis=["eni-" + endpoint_id[5:]], tags=tags)
                        for endpoint_id, service, kind, tags in (("vpce-ssm", "ssm", "Interface", ALICES),
                                                                 ("vpce-s3", "s3", "Gateway", ALICES),
                                                                 ("vpce-bob", "ssm", "Interface", BOBS))),
        eic_endpoints=(EicEndpoint("eice-1", "vpc-1", "subnet-1", "create-complete", ("eni-eice",), tags=ALICES),),
        instances=(alices("i-1"), alices("i-bob", BOBS), alices("i-old", state="terminated")),
        network_interfaces=(NetworkInterface("eni-free", "subnet-1", "vpc-1", "10.0.0.9", (), "interface", False, tags=ALICES),
                            NetworkInterface("eni-vpce", "subnet-1", "vpc-1", "10.0.0.10", (), "vpc_endpoint", True)),
        sessions=("alice-0123",),
        instance_profiles=(IamProfile(f"{ALICE}-ssm-instance-profile", "arn:p", (f"{ALICE}-ssm-instance-role",), tags=ALICES),
                           IamProfile("alice-x-ssm-instance-profile", "arn:q", (), tags=((TAG_KEY, "alice-x"),))),
        roles=(IamRole(f"{ALICE}-ssm-instance-role", "arn:r", None,
                       ("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",), (f"{ALICE}-session-logging",), ALICES),
               IamRole(f"{ALICE}-untagged-role", "arn:u")),
        log_group=LogGroup(f"/ssmlab/{ALICE}/sessions", ALICES),
        bucket=Bucket("ssmlab-alice-123456789012-eu-west-1", ALICES,
                      tuple((f"sessions/{n}", f"v{n}") for n in range(1500))),
        preferences=PreferencesDocument("SSM-SessionManagerRunShell", ALICES, ALICES_PREFERENCES),
        backup_parameter=None,
    )
    base.update(changes)
    return LabResources(**base)


# -- what the simulated agent is told of its instance: an assessment, every check passed unless changed -------

@dataclass
class FakeCheck:
    passed: bool
    detail: str = ""
    code: str | None = None


@dataclass
class FakePath:
    reachable: bool


@dataclass
class FakeAssessment:
    credentials: FakeCheck = field(default_factory=lambda: FakeCheck(True))
    registration: FakeCheck = field(default_factory=lambda: FakeCheck(True))
    control_channel: FakeCheck = field(default_factory=lambda: FakeCheck(True))
    ssm_path: object = None
    channel_paths: dict = field(default_factory=lambda: {"ssmmessages": FakePath(True), "ec2messages": FakePath(True)})


# -- a notebook for the runner: a parameters cell, then `sources` as code cells ---------------------------------

def write_notebook(folder: Path, name: str, *sources: str) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('lab_name = "x"  # the lab\nmarker = ""  # not given by the runner')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# test"), params] + [nbformat.v4.new_code_cell(s) for s in sources]
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, str(path))
    return path
