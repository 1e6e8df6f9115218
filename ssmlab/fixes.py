"""The fixes findings give, as AWS CLI commands made from the snapshot they were found in. Pure.

Every value a command needs comes from the snapshot: the endpoint security group the lab's
endpoints use, a free network ACL rule number, the S3 prefix list of the route table, the
profile whose role has the SSM core policy. Shared by the doctor and the checks beside it
(`encryption`), so each command is written once; `ssmlab doctor --fix` runs them as shown.
"""

from __future__ import annotations

import json

from ssmlab import nacl, netpath
from ssmlab.findings import Fix, advice, aws
from ssmlab.model import TAG_KEY, Instance, LabState

CORE_POLICY_ARN = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
EPHEMERAL = "1024-65535"  # what a return rule opens: every client's ephemeral ports (Amazon VPC User Guide)
ENDPOINT_TERRAFORM = 'aws_vpc_endpoint with vpc_endpoint_type = "Interface", private_dns_enabled = true'


def document(statement_actions: list[str], resource: str | list[str]) -> str:
    """A one-statement Allow policy, compact, as `--policy-document` takes it."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": statement_actions, "Resource": resource}]}, separators=(",", ":"))


def reboot(instance_id: str) -> tuple[str, ...]:
    return aws("ec2", "reboot-instances", "--instance-ids", instance_id)


def vpc_cidr(state: LabState, instance: Instance) -> str:
    vpc = state.vpc(instance.vpc_id)
    return vpc.cidr if vpc else "10.0.0.0/16"


def tagged(instance: Instance, name: str) -> tuple[str, ...]:
    """`--tag-specifications` for an endpoint made for a lab's instance: the lab's tag (`model.TAG_KEY`) and a Name as
    the build step gives it, so the lab's cleanup removes it and the next build adopts it instead of adding a
    second one; nothing for an instance of no lab."""
    lab = dict(instance.tags).get(TAG_KEY)
    return ("--tag-specifications", f"ResourceType=vpc-endpoint,Tags=[{{Key={TAG_KEY},Value={lab}}},"
                                    f"{{Key=Name,Value={lab}-{name}}}]") if lab else ()


def create_endpoint(state: LabState, instance: Instance, service: str) -> tuple[str, ...]:
    """An interface endpoint for `service` in the instance's subnet, with private DNS and the security group of the
    lab's other interface endpoints (none known: the VPC's default group, which the doctor then judges)."""
    group = next((e.group_ids[0] for e in state.endpoints if e.endpoint_type == "Interface" and e.group_ids
                  and e.vpc_id == instance.vpc_id), None)
    return aws("ec2", "create-vpc-endpoint", "--vpc-id", str(instance.vpc_id), "--vpc-endpoint-type", "Interface",
               "--service-name", netpath.service_name(service, state.region), "--subnet-ids", str(instance.subnet_id),
               *(("--security-group-ids", group) if group else ()), "--private-dns-enabled",
               *tagged(instance, f"{service}-endpoint"))


def s3_gateway(state: LabState, instance: Instance) -> tuple[str, ...] | None:
    """The S3 gateway endpoint on the instance subnet's route table (free); None when no table is known."""
    table = state.route_table_for(instance.subnet_id) if instance.subnet_id else None
    if table is None:
        return None
    return aws("ec2", "create-vpc-endpoint", "--vpc-endpoint-type", "Gateway", "--service-name",
               netpath.service_name("s3", state.region), "--vpc-id", str(instance.vpc_id),
               "--route-table-ids", table.route_table_id, *tagged(instance, "s3-gateway-endpoint"))


def s3_prefix_list(state: LabState, instance: Instance) -> str | None:
    """The S3 prefix list the instance subnet's route table sends to a gateway endpoint, if the snapshot knows it."""
    table = state.route_table_for(instance.subnet_id) if instance.subnet_id else None
    for route in table.routes if table else ():
        endpoint = next((e for e in state.endpoints if e.endpoint_id == route.target), None)
        if route.destination.startswith("pl-") and endpoint is not None and endpoint.service == "s3":
            return route.destination
    return None


def s3_egress(state: LabState, instance: Instance, group_id: str) -> tuple[str, ...] | None:
    listed = s3_prefix_list(state, instance)
    return aws("ec2", "authorize-security-group-egress", "--group-id", group_id, "--ip-permissions",
               f"IpProtocol=tcp,FromPort=443,ToPort=443,PrefixListIds=[{{PrefixListId={listed}}}]") if listed else None


def for_hop(state: LabState, instance: Instance, hop, service: str) -> Fix:
    """The fix for the first hop that stops `service`'s path (the doctor's network codes)."""
    vpc, cidr, code = str(instance.vpc_id), vpc_cidr(state, instance), hop.code
    if code == "VPC_DNS_SUPPORT_DISABLED":
        return Fix((aws("ec2", "modify-vpc-attribute", "--vpc-id", vpc, "--enable-dns-support", '{"Value":true}'),),
                   terraform="enable_dns_support = true")
    if code == "VPC_DNS_HOSTNAMES_DISABLED":
        return Fix((aws("ec2", "modify-vpc-attribute", "--vpc-id", vpc, "--enable-dns-hostnames", '{"Value":true}'),),
                   terraform="enable_dns_hostnames = true on aws_vpc")
    if code == "ENDPOINT_MISSING":
        if service == "s3":
            gateway = s3_gateway(state, instance)
            return Fix((gateway,), "{0} (free)") if gateway else advice("add an S3 gateway endpoint to the route table")
        return Fix((create_endpoint(state, instance, service),), terraform=ENDPOINT_TERRAFORM)
    if code == "ENDPOINT_PRIVATE_DNS_DISABLED":
        return Fix((aws("ec2", "modify-vpc-endpoint", "--vpc-endpoint-id", str(hop.resource), "--private-dns-enabled"),),
                   terraform="private_dns_enabled = true on aws_vpc_endpoint")
    if code == "ENDPOINT_NOT_AVAILABLE":
        return advice(f"wait for it, or look at its state: aws ec2 describe-vpc-endpoints --vpc-endpoint-ids {hop.resource}")
    if code == "ENDPOINT_SG_BLOCKS_HTTPS":
        return Fix((aws("ec2", "authorize-security-group-ingress", "--group-id", str(hop.resource), "--protocol", "tcp",
                        "--port", "443", "--cidr", cidr),),
                   terraform=f'the ingress block needs cidr_blocks = ["{cidr}"] or security_groups = [the instance SG]; '
                             "an ingress block without a source allows nothing")
    if code == "INSTANCE_SG_BLOCKS_HTTPS":
        if service == "s3":
            egress = s3_egress(state, instance, str(hop.resource))
            return Fix((egress,), terraform="an egress block for port 443 to the S3 prefix list") if egress else advice(
                f"allow egress 443 to the S3 prefix list in {hop.resource}")
        return Fix((aws("ec2", "authorize-security-group-egress", "--group-id", str(hop.resource), "--ip-permissions",
                        f"IpProtocol=tcp,FromPort=443,ToPort=443,IpRanges=[{{CidrIp={cidr}}}]"),),
                   terraform="an egress block for port 443 to the VPC CIDR")
    if code == "NACL_BLOCKS_HTTPS":
        return nacl_fix(state, instance, hop, service)
    return advice(f"see the {hop.name} hop of {instance.instance_id}'s path")


def nacl_fix(state: LabState, instance: Instance, hop, service: str = "ssm") -> Fix:
    """Allow what the hop's network ACL denies, ahead of the rule that denies it, with a rule number that is free.

    ACL rules are evaluated from the lowest number up and the first match decides (Amazon VPC User Guide, "Network
    ACL rules"): an allow must come before the deny, so it takes the highest free number below it; with none free,
    the denying rule itself is replaced. Against the final * rule, any free number will do. The peer is the VPC's
    CIDR (the endpoints and the instance are inside it), or anywhere for S3's public addresses behind its gateway."""
    acl = next((a for a in state.network_acls if a.nacl_id == hop.resource), None)
    egress = hop.name in ("nacl-out", "endpoint-nacl-return")
    reply = hop.name in ("nacl-return", "endpoint-nacl-return")
    ports = EPHEMERAL if reply else "443"
    lo, hi = ports.split("-") if "-" in ports else (ports, ports)
    used = {e.rule_number for e in (acl.entries if acl else ()) if e.egress == egress}
    deny = hop.rule or nacl.DEFAULT_DENY_RULE
    entry = ("--network-acl-id", str(hop.resource), "--egress" if egress else "--ingress")
    peer = "0.0.0.0/0" if service == "s3" else vpc_cidr(state, instance)
    rule = ("--protocol", "tcp", "--port-range", f"From={lo},To={hi}", "--cidr-block", peer,
            "--rule-action", "allow")
    stateless = " (network ACLs are stateless: the reply needs its own rule)" if reply else ""
    if deny >= nacl.DEFAULT_DENY_RULE:
        number = next((n for n in (*range(100, 32700, 100), *range(1, 32767)) if n not in used), None)
        why = f"nothing allows it, so the final * rule denies it{stateless}"
    else:
        number = next((n for n in range(deny - 1, 0, -1) if n not in used), None)
        why = f"rule {deny} denies it and rules apply lowest number first, so the allow goes before it{stateless}"
    if number is None:
        return Fix((aws("ec2", "replace-network-acl-entry", *entry, "--rule-number", str(deny), *rule),),
                   why=f"rule {deny} denies it and no lower rule number is free, so the allow replaces it{stateless}",
                   terraform="the ingress/egress rule of aws_network_acl")
    return Fix((aws("ec2", "create-network-acl-entry", *entry, "--rule-number", str(number), *rule),), why=why,
               terraform="an ingress/egress rule of aws_network_acl with a lower rule_no than the deny")


def suitable_profile(state: LabState) -> str | None:
    """A profile in the snapshot whose role has the SSM core policy."""
    for profile in state.instance_profiles:
        role = state.profile_role(profile)
        if role and any(p.arn == CORE_POLICY_ARN for p in role.managed_policies):
            return profile.name
    return None


def put_role_policy(role_name: str, policy_name: str, actions: list[str], resource: str | list[str]) -> tuple[str, ...]:
    return aws("iam", "put-role-policy", "--role-name", role_name, "--policy-name", policy_name,
               "--policy-document", document(actions, resource))
