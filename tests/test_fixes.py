"""Fixes as data, on hand-built states: the text renders from the commands, and the network ACL fix picks a rule
number that is free and comes before the deny (a rule number in use is refused: NetworkAclEntryAlreadyExists)."""

from __future__ import annotations

from ssmlab import fixes
from ssmlab.diagram_breaks import breaks
from ssmlab.findings import Finding, Fix, advice, commands_to_apply
from ssmlab.model import Imds, Instance, LabState, NaclEntry, NetworkAcl, Vpc
from ssmlab.netpath import Hop

INSTANCE = Instance("i-1", "running", "vpc-1", "subnet-1", "10.0.1.5", None, "ami-1", "t3.micro", ("sg-i",), None,
                    Imds("enabled", "required"), None, ())


def _state(*entries: NaclEntry) -> LabState:
    acl = NetworkAcl("acl-1", "vpc-1", False, ("subnet-1",), entries)
    return LabState("ap-northeast-1", vpcs=(Vpc("vpc-1", "10.0.0.0/16", True, True),), network_acls=(acl,),
                    instances=(INSTANCE,))


def _ingress(number: int, action: str) -> NaclEntry:
    return NaclEntry(number, False, "6", action, "10.0.0.0/16", 1024, 65535)


def _return_hop(rule: int) -> Hop:
    return Hop("nacl-return", False, "the reply is denied", "acl-1", "NACL_BLOCKS_HTTPS", rule)


def _number(fix: Fix) -> int:
    (argv,) = fix.commands
    return int(argv[argv.index("--rule-number") + 1])


def test_an_allow_goes_just_before_the_deny_on_a_free_number():
    fix = fixes.nacl_fix(_state(_ingress(90, "deny"), _ingress(100, "allow")), INSTANCE, _return_hop(90))
    assert _number(fix) == 89 and fix.commands[0][:3] == ("aws", "ec2", "create-network-acl-entry")
    assert "--ingress" in fix.commands[0] and "From=1024,To=65535" in fix.commands[0]
    assert "rule 90 denies it" in fix.why and "stateless" in fix.why


def test_numbers_in_use_are_skipped_and_the_other_direction_does_not_count():
    taken = NaclEntry(89, False, "6", "allow", "192.168.0.0/16", 22, 22)
    other_way = NaclEntry(88, True, "-1", "allow", "0.0.0.0/0")
    fix = fixes.nacl_fix(_state(taken, other_way, _ingress(90, "deny")), INSTANCE, _return_hop(90))
    assert _number(fix) == 88  # 89 is used by an ingress rule; egress rule 88 is another list


def test_a_deny_at_rule_1_is_replaced_since_nothing_can_come_before_it():
    fix = fixes.nacl_fix(_state(_ingress(1, "deny")), INSTANCE, _return_hop(1))
    (argv,) = fix.commands
    assert argv[2] == "replace-network-acl-entry" and _number(fix) == 1 and "no lower rule number is free" in fix.why


def test_against_the_final_rule_a_free_number_is_taken_not_100_when_100_is_used():
    fix = fixes.nacl_fix(_state(NaclEntry(100, False, "17", "allow", "0.0.0.0/0", 53, 53)), INSTANCE, _return_hop(32767))
    assert _number(fix) == 200 and "final * rule" in fix.why


def test_the_text_renders_from_the_commands_and_quotes_what_the_shell_would_split():
    fix = Fix((("aws", "ec2", "modify-vpc-attribute", "--vpc-id", "vpc-1", "--enable-dns-support", '{"Value":true}'),),
              terraform="enable_dns_support = true")
    assert fix.text == ("aws ec2 modify-vpc-attribute --vpc-id vpc-1 --enable-dns-support '{\"Value\":true}' "
                        "(Terraform: enable_dns_support = true)")
    worded = Fix((("aws", "a"), ("aws", "b")), "first {0}, then {1}", why="because")
    assert worded.text == "first aws a, then aws b (because)" and advice("wait").commands == ()


def test_shared_commands_run_once_and_info_findings_are_advice():
    reboot = fixes.reboot("i-1")
    findings = [Finding("NOT_MANAGED", "error", "i-1", "m", Fix((reboot,))),
                Finding("REBOOT_RECOMMENDED", "warning", "i-1", "m", Fix((reboot,))),
                Finding("S3_GATEWAY_MISSING", "info", "vpc-1", "m", Fix((("aws", "ec2", "create-vpc-endpoint"),)))]
    assert commands_to_apply(findings) == [reboot]


def test_the_picture_reads_the_services_not_the_wording():
    said = [Finding("INSTANCE_SG_BLOCKS_HTTPS", "error", "sg-i", "ssmmessages: blocked", advice("x"), ("ssmmessages",))]
    reworded = [Finding("INSTANCE_SG_BLOCKS_HTTPS", "error", "sg-i", "Egress to 443 is closed (ssm too?)", advice("x"),
                        ("ssmmessages",))]
    assert breaks(_state(), said, INSTANCE).agent == breaks(_state(), reworded, INSTANCE).agent == {
        "ssmmessages": ["INSTANCE_SG_BLOCKS_HTTPS"]}
