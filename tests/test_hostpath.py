"""hostpath: can the instance open tcp PORT to a host in its VPC (the agent's dial for a port session to a
remote host)? On hand-built states (`tests/builders.py`): the kit's lab plus a database host."""

from __future__ import annotations

from dataclasses import replace

from ssmlab import hostpath
from ssmlab.instance import services
from tests.builders import (
    acl, entry, https, instance, private_lab, sg,
)

DB_RULE = https(group="sg-instance", ports=(5432, 5432))


def lab(egress=(https("10.0.0.0/16"), https("10.0.0.0/16", ports=(5432, 5432))), db_ingress=(DB_RULE,),
        db_subnet="subnet-a", db_ip="10.0.0.9", **changes):
    database = instance(db_subnet, db_ip, groups=("sg-database",), instance_id="i-db", profile_arn=None,
                        tags=(("Name", "demo-database"),))
    state = private_lab(**changes)
    return replace(state, instances=state.instances + (database,), security_groups=(
        sg("sg-endpoints", ingress=[https("10.0.0.0/16")]), sg("sg-instance", egress=egress),
        sg("sg-database", ingress=db_ingress)))


def test_the_kit_lab_with_egress_5432_reaches_the_database_by_source_group():
    judged = hostpath.path(lab(), "i-1", "10.0.0.9", 5432)
    assert judged.reachable and judged.target.instance_id == "i-db"
    assert [h.name for h in judged.hops] == ["dns", "instance-sg-egress", "host-sg-ingress"]  # one subnet: no NACLs
    assert "sg-database allows tcp 5432 from sg-instance" in judged.hops[-1].detail


def test_the_kit_instance_sg_allows_only_443_so_5432_is_dropped_on_the_way_out():
    judged = hostpath.path(lab(egress=(https("10.0.0.0/16"),)), "i-1", "10.0.0.9", 5432)
    failed = judged.first_failure
    assert not judged.reachable and failed.name == "instance-sg-egress" and failed.resource == "sg-instance"
    assert failed.code == hostpath.INSTANCE_SG_BLOCKS_PORT
    assert "no outbound rule of sg-instance allows tcp 5432 out to i-db (10.0.0.9)" in failed.detail


def test_the_database_sg_must_admit_the_instance():
    judged = hostpath.path(lab(db_ingress=(https("10.0.1.0/24", ports=(5432, 5432)),)), "i-1", "10.0.0.9", 5432)
    assert judged.first_failure.name == "host-sg-ingress" and judged.first_failure.resource == "sg-database"
    assert "in from i-1 (10.0.0.5)" in judged.first_failure.detail
    by_cidr = hostpath.path(lab(db_ingress=(https("10.0.0.0/24", ports=(5432, 5432)),)), "i-1", "10.0.0.9", 5432)
    assert by_cidr.reachable


def test_across_subnets_both_nacls_are_walked_and_a_missing_ephemeral_rule_breaks_the_reply():
    entries = (entry(100, False, cidr="10.0.0.0/16", protocol="6", ports=(5432, 5432)), entry(32767, False, "deny"),
               entry(100, True), entry(32767, True, "deny"))
    state = replace(lab(db_subnet="subnet-b", db_ip="10.0.1.9"),
                    network_acls=(acl("acl-a", ("subnet-a",)), acl("acl-db", ("subnet-b",), entries)))
    judged = hostpath.path(state, "i-1", "10.0.1.9", 5432)
    assert [h.name for h in judged.hops] == ["dns", "instance-sg-egress", "nacl-out", "host-nacl-in",
                                             "host-nacl-return", "nacl-return", "host-sg-ingress"]
    assert judged.reachable  # the database's subnet admits 5432 in; its outbound allows all
    inbound_only_443 = (entry(100, False), entry(32767, False, "deny"),
                        entry(100, True, cidr="10.0.0.0/16", protocol="6", ports=(443, 443)), entry(32767, True, "deny"))
    state = replace(state, network_acls=(acl("acl-a", ("subnet-a",), inbound_only_443), acl("acl-db", ("subnet-b",), entries)))
    failed = hostpath.path(state, "i-1", "10.0.1.9", 5432).first_failure
    assert failed.name == "nacl-out" and failed.resource == "acl-a" and failed.rule == 32767
    assert failed.code == hostpath.NACL_BLOCKS_PORT


def test_names_resolve_as_the_private_ip_names_do_and_others_do_not():
    state = lab()
    assert hostpath.resolve(state, state.instance("i-1"), "ip-10-0-0-9.ap-northeast-1.compute.internal") == "10.0.0.9"
    assert hostpath.resolve(state, state.instance("i-1"), "ip-10-0-0-9") == "10.0.0.9"
    assert hostpath.resolve(state, state.instance("i-1"), "ip-10-0-0-9.ec2.internal") is None  # another region's
    judged = hostpath.path(state, "i-1", "db.example.internal", 5432)
    assert judged.refusal == "missing address" and judged.first_failure.code == hostpath.HOST_NOT_RESOLVED


def test_the_agent_refuses_imds_and_the_vpc_dns_server():
    for address in ("169.254.169.254", "10.0.0.2"):
        judged = hostpath.path(lab(), "i-1", address, 80)
        assert judged.refusal == f"Forwarding to IP address {address} is forbidden." and not judged.reachable


def test_an_address_nobody_holds_gets_no_answer():
    failed = hostpath.path(lab(), "i-1", "10.0.0.77", 5432).first_failure
    assert failed.name == "host" and "held by no instance" in failed.detail


# -- the database's simulated PostgreSQL (instance.services) ----------------------------------------------

def test_postgres_answers_ssl_no_then_md5_then_the_password_is_wrong():
    server = services.dial_host(lab(), "i-db", 5432)
    assert server.opening() == b""
    assert server.receive(b"\x00\x00\x00\x08\x04\xd2\x16\x2f") == (b"N", False)  # SSLRequest
    startup = b"\x00\x03\x00\x00user\x00alice\x00database\x00app\x00\x00"
    packet = (len(startup) + 4).to_bytes(4, "big") + startup
    assert server.receive(packet[:5]) == (b"", False)  # a message in pieces waits for the rest
    answer, closes = server.receive(packet[5:])
    assert answer == b"R\x00\x00\x00\x0c\x00\x00\x00\x05ssml" and not closes
    answer, closes = server.receive(b"p\x00\x00\x00\x28md5" + b"0" * 32 + b"\x00")
    assert closes and answer[:1] == b"E" and int.from_bytes(answer[1:5], "big") == len(answer) - 1
    assert b"C28P01\x00" in answer and b'Mpassword authentication failed for user "alice"\x00' in answer
    assert answer.endswith(b"\x00\x00")
    assert services.dial_host(lab(), "i-db", 5433) is None and services.dial_host(lab(), "i-1", 5432) is None
