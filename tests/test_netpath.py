"""netpath: hop-by-hop reachability over hand-built LabStates (`builders.private_lab` and its variants), as
scenario tables."""

from __future__ import annotations

from dataclasses import replace

import pytest

from builders import (
    ALLOW_ALL, REGION, RETURN_ONLY, acl, endpoint, endpoints, eni, entry, groups, https, instance, instance_in_b,
    instance_nacl, nacl_entries, private_lab, public_lab, s3_gateway_lab, sg, split_nacls,
)
from ssmlab import nacl
from ssmlab.model import Route, RouteTable, Subnet, Vpc
from ssmlab.netpath import HOP_NAMES, LINUX_EPHEMERAL_PORTS, hostname, path, resolve


SCENARIOS = [
    # (id, state factory, service, reachable, first failing hop, code, via)
    ("complete-ssm", private_lab, "ssm", True, None, None, "endpoint"),
    ("complete-ssmmessages", private_lab, "ssmmessages", True, None, None, "endpoint"),
    ("complete-ec2messages", private_lab, "ec2messages", True, None, None, "endpoint"),
    ("no-ssm-endpoint", lambda: endpoints(private_lab(), drop=("vpce-ssm",)), "ssm", False, "route", "ENDPOINT_MISSING", "public"),
    ("no-ssm-endpoint-others-fine", lambda: endpoints(private_lab(), drop=("vpce-ssm",)), "ssmmessages", True, None, None,
     "endpoint"),
    ("private-dns-off", lambda: endpoints(private_lab(), endpoint("ssm", private_dns=False)), "ssm", False, "dns",
     "ENDPOINT_PRIVATE_DNS_DISABLED", "public"),
    ("hostnames-off", lambda: private_lab(vpcs=(Vpc("vpc-1", "10.0.0.0/16", True, False),)), "ssm", False, "dns",
     "VPC_DNS_HOSTNAMES_DISABLED", "public"),
    ("dns-support-off", lambda: private_lab(vpcs=(Vpc("vpc-1", "10.0.0.0/16", False, True),)), "ssmmessages", False, "dns",
     "VPC_DNS_SUPPORT_DISABLED", "none"),
    ("endpoint-sg-no-ingress", lambda: groups(private_lab(), sg("sg-endpoints")), "ssm", False, "endpoint-sg-ingress",
     "ENDPOINT_SG_BLOCKS_HTTPS", "endpoint"),
    ("endpoint-sg-ingress-without-source", lambda: groups(private_lab(), sg("sg-endpoints", ingress=[https()])), "ssm", False,
     "endpoint-sg-ingress", "ENDPOINT_SG_BLOCKS_HTTPS", "endpoint"),
    ("endpoint-sg-ingress-other-subnet-only", lambda: groups(private_lab(), sg("sg-endpoints", ingress=[https("10.0.1.0/24")])),
     "ssm", False, "endpoint-sg-ingress", "ENDPOINT_SG_BLOCKS_HTTPS", "endpoint"),
    ("endpoint-sg-ingress-port-22-only", lambda: groups(private_lab(), sg("sg-endpoints", ingress=[https("10.0.0.0/16", ports=(22, 22))])),
     "ssm", False, "endpoint-sg-ingress", "ENDPOINT_SG_BLOCKS_HTTPS", "endpoint"),
    ("endpoint-sg-ingress-from-instance-sg", lambda: groups(private_lab(), sg("sg-endpoints", ingress=[https(group="sg-instance")])),
     "ssm", True, None, None, "endpoint"),
    ("endpoint-sg-ingress-from-prefix-list", lambda: groups(private_lab(), sg("sg-endpoints", ingress=[https(pl="pl-corp")])),
     "ssm", True, None, None, "endpoint"),
    ("endpoint-sg-ingress-from-other-prefix-list", lambda: groups(private_lab(), sg("sg-endpoints", ingress=[https(pl="pl-other")])),
     "ssm", False, "endpoint-sg-ingress", "ENDPOINT_SG_BLOCKS_HTTPS", "endpoint"),
    ("endpoint-sg-ingress-all-traffic", lambda: groups(private_lab(), sg("sg-endpoints", ingress=[https("10.0.0.0/16", protocol="-1", ports=(None, None))])),
     "ssm", True, None, None, "endpoint"),
    ("instance-sg-egress-revoked", lambda: groups(private_lab(), sg("sg-instance")), "ssm", False, "instance-sg-egress",
     "INSTANCE_SG_BLOCKS_HTTPS", "endpoint"),
    ("instance-sg-egress-port-80-only", lambda: groups(private_lab(), sg("sg-instance", egress=[https("10.0.0.0/16", ports=(80, 80))])),
     "ssm", False, "instance-sg-egress", "INSTANCE_SG_BLOCKS_HTTPS", "endpoint"),
    ("instance-sg-egress-udp-443", lambda: groups(private_lab(), sg("sg-instance", egress=[https("10.0.0.0/16", protocol="udp")])),
     "ssm", False, "instance-sg-egress", "INSTANCE_SG_BLOCKS_HTTPS", "endpoint"),
    ("instance-sg-egress-port-range", lambda: groups(private_lab(), sg("sg-instance", egress=[https("10.0.0.0/16", ports=(0, 65535))])),
     "ssm", True, None, None, "endpoint"),
    ("instance-sg-egress-to-endpoint-sg", lambda: groups(private_lab(), sg("sg-instance", egress=[https(group="sg-endpoints")])),
     "ssm", True, None, None, "endpoint"),
    ("instance-sg-egress-to-other-sg", lambda: groups(private_lab(), sg("sg-instance", egress=[https(group="sg-other")])),
     "ssm", False, "instance-sg-egress", "INSTANCE_SG_BLOCKS_HTTPS", "endpoint"),
    ("instance-sg-default-allow-all", lambda: groups(private_lab(), sg("sg-instance", egress=[https("0.0.0.0/0", protocol="-1", ports=(None, None))])),
     "ssm", True, None, None, "endpoint"),
    ("instance-sg-egress-to-other-subnet", lambda: groups(private_lab(), sg("sg-instance", egress=[https("10.0.1.0/24")])),
     "ssm", False, "instance-sg-egress", "INSTANCE_SG_BLOCKS_HTTPS", "endpoint"),
    ("instance-without-groups", lambda: replace(private_lab(), instances=(instance(groups=()),)), "ssm", False,
     "instance-sg-egress", "INSTANCE_SG_BLOCKS_HTTPS", "endpoint"),
    # NACLs: only crossed between subnets, so the instance sits in subnet-b here.
    ("nacl-deny-outbound-443", lambda: instance_nacl(instance_in_b(private_lab()), entry(90, True, "deny", protocol="6", ports=(443, 443)),
                                                      *ALLOW_ALL), "ssm", False, "nacl-out", "NACL_BLOCKS_HTTPS", "endpoint"),
    ("nacl-deny-outbound-443-same-subnet-not-crossed",
     lambda: nacl_entries(private_lab(), entry(90, True, "deny", protocol="6", ports=(443, 443)), *ALLOW_ALL),
     "ssm", True, None, None, "endpoint"),
    ("nacl-allow-before-deny-first-match-wins",
     lambda: instance_nacl(instance_in_b(private_lab()), entry(80, True, protocol="6", ports=(443, 443)),
                          entry(90, True, "deny", protocol="6", ports=(443, 443)), *ALLOW_ALL), "ssm", True, None, None, "endpoint"),
    ("nacl-deny-return-32768-65535",
     lambda: instance_nacl(instance_in_b(private_lab()), entry(90, False, "deny", protocol="6", ports=(32768, 65535)), *ALLOW_ALL),
     "ssm", False, "nacl-return", "NACL_BLOCKS_HTTPS", "endpoint"),
    ("nacl-return-1024-65535", lambda: instance_nacl(instance_in_b(private_lab()), *RETURN_ONLY(1024, 65535)), "ssm", True, None,
     None, "endpoint"),
    ("nacl-return-32768-61000-aws-doc", lambda: instance_nacl(instance_in_b(private_lab()), *RETURN_ONLY(32768, 61000)), "ssm", True,
     None, None, "endpoint"),
    ("nacl-return-49152-65535-windows-range",
     lambda: instance_nacl(instance_in_b(private_lab()), *RETURN_ONLY(49152, 65535)), "ssm", False, "nacl-return",
     "NACL_BLOCKS_HTTPS", "endpoint"),
    ("nacl-return-in-two-rules",
     lambda: instance_nacl(instance_in_b(private_lab()), entry(100, True, protocol="6", ports=(443, 443)),
                          entry(100, False, protocol="6", ports=(32768, 40000)), entry(110, False, protocol="6", ports=(40001, 65535))),
     "ssm", True, None, None, "endpoint"),
    ("nacl-return-allowed-then-partly-denied",
     lambda: instance_nacl(instance_in_b(private_lab()), entry(100, True, protocol="6", ports=(443, 443)),
                          entry(100, False, protocol="6", ports=(32768, 50000)), entry(110, False, "deny", protocol="6", ports=(50001, 50001)),
                          entry(120, False, protocol="6", ports=(1024, 65535))),
     "ssm", False, "nacl-return", "NACL_BLOCKS_HTTPS", "endpoint"),
    ("nacl-rules-for-the-vpc-cidr",
     lambda: instance_nacl(instance_in_b(private_lab()), entry(100, True, cidr="10.0.0.0/16"), entry(100, False, cidr="10.0.0.0/16")),
     "ssm", True, None, None, "endpoint"),
    ("nacl-udp-rules-do-not-count",
     lambda: instance_nacl(instance_in_b(private_lab()), entry(100, True, protocol="17", ports=(443, 443)), entry(100, False)),
     "ssm", False, "nacl-out", "NACL_BLOCKS_HTTPS", "endpoint"),
    ("nacl-ipv6-rules-do-not-count",
     lambda: instance_nacl(instance_in_b(private_lab()), entry(100, True, cidr="::/0"), entry(100, False)),
     "ssm", False, "nacl-out", "NACL_BLOCKS_HTTPS", "endpoint"),
    ("endpoint-subnet-nacl-blocks-inbound-443",
     lambda: split_nacls(instance_in_b(private_lab()), (entry(90, False, "deny", protocol="6", ports=(443, 443)), *ALLOW_ALL)),
     "ssm", False, "endpoint-nacl-in", "NACL_BLOCKS_HTTPS", "endpoint"),
    ("endpoint-subnet-nacl-blocks-return",
     lambda: split_nacls(instance_in_b(private_lab()), (entry(100, False), entry(100, True, protocol="6", ports=(443, 443)))),
     "ssm", False, "endpoint-nacl-return", "NACL_BLOCKS_HTTPS", "endpoint"),
    ("endpoint-subnet-nacl-return-1024-65535",
     lambda: split_nacls(instance_in_b(private_lab()), (entry(100, False, protocol="6", ports=(443, 443)),
                                                      entry(100, True, protocol="6", ports=(1024, 65535)))),
     "ssm", True, None, None, "endpoint"),
    ("shared-nacl-inbound-443-denied-between-subnets",
     lambda: nacl_entries(instance_in_b(private_lab()), entry(90, False, "deny", protocol="6", ports=(443, 443)), *ALLOW_ALL),
     "ssm", False, "endpoint-nacl-in", "NACL_BLOCKS_HTTPS", "endpoint"),
    ("shared-return-only-nacl-blocks-the-endpoint-side",
     lambda: nacl_entries(instance_in_b(private_lab()), *RETURN_ONLY(1024, 65535)), "ssm", False, "endpoint-nacl-in",
     "NACL_BLOCKS_HTTPS", "endpoint"),
    ("no-nacl-in-state-is-default", lambda: replace(instance_in_b(private_lab()), network_acls=()), "ssm", True, None, None,
     "endpoint"),
    ("endpoint-pending", lambda: endpoints(private_lab(), endpoint("ssm", state="pending")), "ssm", False, "endpoint-state",
     "ENDPOINT_NOT_AVAILABLE", "endpoint"),
    ("endpoint-deleting-is-missing", lambda: endpoints(private_lab(), endpoint("ssm", state="deleting")), "ssm", False, "route",
     "ENDPOINT_MISSING", "public"),
    ("endpoint-without-interfaces",
     lambda: endpoints(replace(private_lab(), network_interfaces=()), endpoint("ssm", subnets=(), enis=())), "ssm", False, "dns",
     "ENDPOINT_MISSING", "endpoint"),
    # Public paths.
    ("public-subnet-igw-public-ip", public_lab, "ssm", True, None, None, "public"),
    ("igw-without-public-ip", lambda: public_lab(public_ip=None), "ssm", False, "route", "ENDPOINT_MISSING", "public"),
    ("nat-route", lambda: public_lab(route_target="nat-1", public_ip=None), "ssmmessages", True, None, None, "public"),
    ("nat-route-egress-only-to-vpc", lambda: public_lab(route_target="nat-1", public_ip=None, egress=(https("10.0.0.0/16"),)),
     "ssm", False, "instance-sg-egress", "INSTANCE_SG_BLOCKS_HTTPS", "public"),
    ("nat-route-nacl-out-only-to-vpc",
     lambda: nacl_entries(public_lab(route_target="nat-1", public_ip=None), entry(100, True, cidr="10.0.0.0/16"), entry(100, False)),
     "ssm", False, "nacl-out", "NACL_BLOCKS_HTTPS", "public"),
    ("blackhole-default-route",
     lambda: replace(public_lab(), route_tables=(RouteTable("rtb-1", "vpc-1", True, ("subnet-a",),
                                                           (Route("0.0.0.0/0", "nat-gone", "blackhole"),)),)),
     "ssm", False, "route", "ENDPOINT_MISSING", "public"),
    ("hostnames-off-but-nat", lambda: replace(public_lab(route_target="nat-1"), endpoints=(endpoint("ssm"),),
                                              vpcs=(Vpc("vpc-1", "10.0.0.0/16", True, False),)),
     "ssm", True, None, None, "public"),
    # S3 through a gateway endpoint.
    ("s3-gateway-egress-to-prefix-list", s3_gateway_lab, "s3", True, None, None, "public"),
    ("s3-gateway-without-egress-to-prefix-list", lambda: s3_gateway_lab(egress=(https("10.0.0.0/16"),)), "s3", False,
     "instance-sg-egress", "INSTANCE_SG_BLOCKS_HTTPS", "public"),
    ("s3-gateway-egress-anywhere", lambda: s3_gateway_lab(egress=(https("0.0.0.0/0"),)), "s3", True, None, None, "public"),
    ("s3-gateway-egress-covering-cidrs", lambda: s3_gateway_lab(egress=(https("52.219.0.0/16"), https("3.5.0.0/16"))), "s3", True,
     None, None, "public"),
    ("s3-gateway-egress-covering-one-cidr", lambda: s3_gateway_lab(egress=(https("52.219.0.0/16"),)), "s3", False,
     "instance-sg-egress", "INSTANCE_SG_BLOCKS_HTTPS", "public"),
    ("s3-gateway-prefix-list-unknown", lambda: s3_gateway_lab(with_prefix_list=False), "s3", True, None, None, "public"),
    ("s3-gateway-nacl-only-vpc",
     lambda: nacl_entries(s3_gateway_lab(), entry(100, True, cidr="10.0.0.0/16"), entry(100, False)), "s3", False, "nacl-out",
     "NACL_BLOCKS_HTTPS", "public"),
    ("s3-gateway-nacl-covering-cidrs",
     lambda: nacl_entries(s3_gateway_lab(), entry(100, True, cidr="52.219.0.0/16", protocol="6", ports=(443, 443)),
                          entry(110, True, cidr="3.5.0.0/16", protocol="6", ports=(443, 443)), entry(100, False)),
     "s3", True, None, None, "public"),
    ("s3-without-gateway", private_lab, "s3", False, "route", "ENDPOINT_MISSING", "public"),
    # The instance itself.
    ("instance-missing", lambda: replace(private_lab(), instances=()), "ssm", False, "instance", "INSTANCE_NOT_FOUND", "none"),
    ("instance-stopped", lambda: replace(private_lab(), instances=(instance(state="stopped"),)), "ssm", False, "instance",
     "INSTANCE_NOT_RUNNING", "none"),
]


@pytest.mark.parametrize("make, service, reachable, failing, code, via",
                         [pytest.param(*s[1:], id=s[0]) for s in SCENARIOS])
def test_scenarios(make, service, reachable, failing, code, via):
    result = path(make(), "i-1", service)
    assert result.resolution.via == via, result.resolution.detail
    assert result.reachable is reachable, [h for h in result.hops if not h.passed]
    failure = result.first_failure
    assert (failure.name if failure else None, failure.code if failure else None) == (failing, code), failure
    names = [h.name for h in result.hops]
    assert names == sorted(names, key=HOP_NAMES.index), "hops out of order"
    assert all(h.detail for h in result.hops)
    assert all((h.code is None) == h.passed for h in result.hops)


def hops(state, service="ssm"):
    return {h.name: h for h in path(state, "i-1", service).hops}


def test_complete_path_names_every_hop_and_the_real_ids():
    result = path(private_lab(), "i-1", "ssm")
    assert [h.name for h in result.hops] == [
        "dns", "route", "instance-sg-egress", "nacl-out", "nacl-return", "endpoint-sg-ingress", "endpoint-state",
    ]
    assert result.resolution == resolve(private_lab(), private_lab().instance("i-1"), "ssm")
    assert result.resolution.hostname == "ssm.ap-northeast-1.amazonaws.com"
    assert result.resolution.endpoint_id == "vpce-ssm" and result.resolution.addresses == ("10.0.0.10",)
    by_name = {h.name: h for h in result.hops}
    assert by_name["route"].resource == "rtb-1"
    assert by_name["instance-sg-egress"].resource == "sg-instance" and "10.0.0.0/16" in by_name["instance-sg-egress"].detail
    assert by_name["endpoint-sg-ingress"].resource == "sg-endpoints"
    assert "not evaluated" in by_name["nacl-out"].detail  # same subnet: NACL not crossed
    assert by_name["endpoint-state"].resource == "vpce-ssm"


def test_crossing_subnets_adds_the_endpoint_nacl_hops():
    names = [h.name for h in path(instance_in_b(private_lab()), "i-1", "ssm").hops]
    assert names == list(HOP_NAMES[1:])


def test_the_sourceless_ingress_rule_is_called_out():
    hop = hops(groups(private_lab(), sg("sg-endpoints", ingress=[https()])))["endpoint-sg-ingress"]
    assert "no source" in hop.detail and "Terraform" in hop.detail and hop.resource == "sg-endpoints"


def test_the_windows_range_failure_names_the_linux_ports_left_uncovered():
    hop = hops(instance_nacl(instance_in_b(private_lab()), *RETURN_ONLY(49152, 65535)))["nacl-return"]
    assert "32768-49151" in hop.detail and hop.resource == "acl-custom"


def test_the_deny_that_blocks_is_named():
    state = instance_nacl(instance_in_b(private_lab()), entry(90, True, "deny", protocol="6", ports=(443, 443)), *ALLOW_ALL)
    assert "rule 90 of acl-custom denies tcp 443 outbound to 10.0.0.10" in hops(state)["nacl-out"].detail


def test_dns_failures_point_at_what_to_fix():
    assert hops(private_lab(vpcs=(Vpc("vpc-1", "10.0.0.0/16", True, False),)))["dns"].resource == "vpc-1"
    assert hops(private_lab(vpcs=(Vpc("vpc-1", "10.0.0.0/16", False, True),)))["dns"].resource == "vpc-1"
    assert hops(endpoints(private_lab(), endpoint("ssm", private_dns=False)))["dns"].resource == "vpce-ssm"
    assert hops(endpoints(private_lab(), endpoint("ssm", private_dns=False)))["route"].resource == "vpce-ssm"
    missing = path(endpoints(private_lab(), drop=("vpce-ssm",)), "i-1", "ssm")
    assert [h.name for h in missing.hops] == ["dns", "route"] and missing.hops[0].passed
    assert missing.hops[1].resource == "vpc-1" and "no interface endpoint for ssm in vpc-1" in missing.hops[1].detail
    assert "no interface endpoint for ssm" in missing.resolution.detail


def test_dns_support_off_stops_at_the_first_hop():
    result = path(private_lab(vpcs=(Vpc("vpc-1", "10.0.0.0/16", False, True),)), "i-1", "ssm")
    assert len(result.hops) == 1 and result.resolution.addresses == ()


# ---------------------------------------------------------------- endpoint interfaces

MOTO_IP = "172.31.77.5"  # moto puts endpoint ENIs at a random address outside their subnet


def moto_like(state, egress=None):
    state = replace(state, network_interfaces=tuple(replace(n, private_ip=MOTO_IP, group_ids=("sg-default",))
                                                    for n in state.network_interfaces))
    return groups(state, sg("sg-instance", egress=[https(egress)])) if egress else state


@pytest.mark.parametrize(
    "make, reachable",
    [
        pytest.param(lambda: moto_like(private_lab()), True, id="ip-outside-subnet-falls-back-to-subnet"),
        pytest.param(lambda: moto_like(private_lab(), egress="10.0.0.0/24"), True, id="rule-for-the-whole-subnet"),
        pytest.param(lambda: moto_like(private_lab(), egress="10.0.0.0/25"), False, id="rule-for-part-of-the-subnet"),
        pytest.param(lambda: groups(private_lab(), sg("sg-instance", egress=[https("10.0.0.0/25")])), True,
                     id="real-ip-inside-part-of-the-subnet"),
        pytest.param(lambda: moto_like(private_lab(), egress="172.31.0.0/16"), False, id="the-moto-ip-is-not-trusted"),
        pytest.param(lambda: replace(private_lab(), network_interfaces=()), True, id="no-eni-uses-endpoint-subnets"),
        pytest.param(lambda: groups(moto_like(private_lab()), sg("sg-instance", egress=[https(group="sg-endpoints")])), True,
                     id="endpoint-groups-win-over-moto-eni-groups"),
    ],
)
def test_endpoint_interfaces(make, reachable):
    assert path(make(), "i-1", "ssm").reachable is reachable


def test_fallback_resolution_names_the_subnet_not_the_fake_ip():
    resolution = path(moto_like(private_lab()), "i-1", "ssm").resolution
    assert resolution.via == "endpoint" and resolution.addresses == ()
    assert "subnet-a (10.0.0.0/24)" in resolution.detail and MOTO_IP not in resolution.detail


def two_subnet_endpoint(state):
    """The ssm endpoint in both subnets, one ENI each; the endpoints' NACL denies everything."""
    state = endpoints(state, endpoint("ssm", subnets=("subnet-a", "subnet-b"), enis=("eni-ssm", "eni-ssm-b")))
    state = replace(state, network_interfaces=state.network_interfaces + (eni("eni-ssm-b", "subnet-b", "10.0.1.10"),))
    return split_nacls(state, (entry(32767, False, "deny"), entry(32767, True, "deny")))


def test_the_interface_in_the_instance_subnet_is_preferred():
    result = path(two_subnet_endpoint(instance_in_b(private_lab())), "i-1", "ssm")
    assert result.reachable and "10.0.1.10" in result.hops[0].detail
    assert result.resolution.addresses == ("10.0.0.10", "10.0.1.10")


def test_then_the_interface_in_the_same_az():
    state = two_subnet_endpoint(instance_in_b(private_lab()))
    state = replace(state, subnets=state.subnets + (Subnet("subnet-c", "vpc-1", "10.0.2.0/24", f"{REGION}c"),),
                    instances=(instance("subnet-c", "10.0.2.5"),),
                    network_acls=state.network_acls + (acl("acl-c", ("subnet-c",)),))
    result = path(state, "i-1", "ssm")
    assert "10.0.1.10" in result.hops[0].detail and result.reachable  # subnet-b is in the same AZ as subnet-c


def test_any_interface_otherwise():
    state = two_subnet_endpoint(instance_in_b(private_lab()))
    state = endpoints(state, endpoint("ssm", subnets=("subnet-a",), enis=("eni-ssm",)))
    result = path(state, "i-1", "ssm")
    assert not result.reachable and result.first_failure.name == "endpoint-nacl-in"


# ---------------------------------------------------------------- public, gateway and naming details

def test_public_path_hops_and_resolution():
    result = path(public_lab(), "i-1", "ssm")
    assert [h.name for h in result.hops] == ["dns", "route", "instance-sg-egress", "nacl-out", "nacl-return"]
    assert result.resolution.endpoint_id is None and "igw-1" in result.hops[1].detail and "54.1.2.3" in result.hops[1].detail


def test_s3_gateway_hops_name_the_prefix_list_and_the_endpoint():
    result = path(s3_gateway_lab(), "i-1", "s3")
    by_name = {h.name: h for h in result.hops}
    assert "pl-61a54008" in by_name["route"].detail and "vpce-s3" in by_name["route"].detail
    assert by_name["endpoint-state"].resource == "vpce-s3"
    assert result.resolution.endpoint_id == "vpce-s3" and "gateway endpoint vpce-s3" in result.resolution.detail


def test_a_dynamodb_gateway_route_does_not_serve_s3():
    state = s3_gateway_lab()
    state = replace(state, endpoints=tuple(replace(e, service_name=f"com.amazonaws.{REGION}.dynamodb")
                                           if e.endpoint_id == "vpce-s3" else e for e in state.endpoints))
    assert path(state, "i-1", "s3").first_failure.code == "ENDPOINT_MISSING"


@pytest.mark.parametrize(
    "service, region, name",
    [
        ("ssm", "ap-northeast-1", "ssm.ap-northeast-1.amazonaws.com"),
        ("ssmmessages", "us-east-1", "ssmmessages.us-east-1.amazonaws.com"),
        ("s3", "eu-west-1", "s3.eu-west-1.amazonaws.com"),
        ("ec2messages", "cn-north-1", "ec2messages.cn-north-1.amazonaws.com.cn"),
    ],
)
def test_hostname(service, region, name):
    assert hostname(service, region) == name


# ---------------------------------------------------------------- the NACL walk on its own

@pytest.mark.parametrize(
    "entries, ports, passed, rule",
    [
        pytest.param(ALLOW_ALL, (443, 443), True, 100, id="allow-all"),
        pytest.param((), (443, 443), False, 32767, id="no-rules-implicit-deny"),
        pytest.param((entry(200, False), entry(100, False, "deny", protocol="6", ports=(443, 443))), (443, 443), False, 100,
                     id="lowest-number-first-whatever-the-order"),
        pytest.param((entry(100, False, protocol="6", ports=(32768, 60999)),), LINUX_EPHEMERAL_PORTS, True, 100, id="exact-range"),
        pytest.param((entry(100, False, protocol="6", ports=(32768, 60998)),), LINUX_EPHEMERAL_PORTS, False, 32767,
                     id="one-port-short"),
        pytest.param((entry(100, False, "deny", cidr="10.0.0.0/28"), entry(200, False)), (443, 443), True, 200,
                     id="deny-for-another-network"),
        pytest.param((entry(100, False, protocol="6", ports=(1, 442)), entry(110, False, protocol="6", ports=(444, 65535))),
                     (443, 443), False, 32767, id="port-gap"),
    ],
)
def test_nacl_walk(entries, ports, passed, rule):
    verdict = nacl.check(acl("acl-1", ("subnet-a",), entries), egress=False, peer=nacl.network("10.0.1.5/32"), ports=ports)
    assert (verdict.passed, verdict.rule_number) == (passed, rule), verdict.detail


def test_nacl_missing_means_default_allow_all():
    assert nacl.check(None, egress=True, peer=nacl.network("0.0.0.0/0"), ports=(443, 443)).passed
