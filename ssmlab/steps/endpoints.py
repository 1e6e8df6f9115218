"""Step 3, interface VPC endpoints: the agent's only way to Systems Manager from a private subnet.

ssm carries registration and health (UpdateInstanceInformation), ssmmessages the control
and session channels (AWS Systems Manager User Guide, "Improve the security of EC2 instances
by using VPC endpoints"). ec2messages is built only when asked for: agents from 3.3.40.0 on
switch it off once ssmmessages connects (SSM Agent 3.3.40.0 release notes), and an AWS notice
quoted in ministryofjustice/modernisation-platform#13918 (a single source) retires the
endpoint on 2026-09-30. Private DNS makes the public name ssm.<region>.amazonaws.com resolve
to the endpoint's private addresses, so the agent needs no configuration at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from ssmlab import netpath
from ssmlab.aws import describe_all, explained, only, wait_for_vpc_endpoints
from ssmlab.idempotent import create_with_token
from ssmlab.model import GONE_ENDPOINT_STATES
from ssmlab.lab import Lab
from ssmlab.steps.network import Network
from ssmlab.steps.security_groups import SecurityGroups

SESSION_MANAGER_SERVICES = ("ssm", "ssmmessages")
LEGACY_SERVICE = "ec2messages"  # only for agents older than 3.3.40.0 (FACTS.md)


@dataclass(frozen=True)
class Endpoint:
    """An interface endpoint the step left available with private DNS on (it waits for both)."""

    service: str
    endpoint_id: str


@dataclass(frozen=True)
class Endpoints:
    endpoints: tuple[Endpoint, ...]
    created: tuple[str, ...] = ()

    def get(self, service: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.service == service), None)


def service_name(lab: Lab, service: str) -> str:
    """com.amazonaws.<region>.<service> (cn.com.amazonaws... in the China regions)."""
    return netpath.service_name(service, lab.region)


def short_service(full_name: str) -> str:
    return full_name.rsplit(".", 1)[-1]


def services_for(with_ec2messages: bool = False) -> tuple[str, ...]:
    """ssm and ssmmessages; ec2messages too when asked for, for agents older than 3.3.40.0."""
    return SESSION_MANAGER_SERVICES + ((LEGACY_SERVICE,) if with_ec2messages else ())


def ensure(
    lab: Lab,
    network: Network,
    groups: SecurityGroups,
    services: tuple[str, ...] = SESSION_MANAGER_SERVICES,
) -> Endpoints:
    """One interface endpoint per service, in every lab subnet, private DNS on; wait until available."""
    return ensure_interface_endpoints(lab, network, groups.endpoint_sg_id, services)


def ensure_interface_endpoints(
    lab: Lab, network: Network, security_group_id: str, services: tuple[str, ...]
) -> Endpoints:
    ec2 = lab.client("ec2")
    created: list[str] = []
    waiting: list[str] = []  # found, but repaired just now or not available yet
    with explained("looking up the lab's VPC endpoints"):
        existing = describe_all(
            ec2,
            "describe_vpc_endpoints",
            "VpcEndpoints",
            Filters=[
                {"Name": "vpc-id", "Values": [network.vpc_id]},
                {"Name": "vpc-endpoint-state", "Values": ["pendingAcceptance", "pending", "available"]},
                lab.tag_filter,
            ],
        )
    results = []
    for service in services:
        name = service_name(lab, service)
        endpoint = only([e for e in existing if e["ServiceName"] == name], f"{service} endpoint", "VpcEndpointId", lab)
        if endpoint is None:
            with explained(f"creating the {service} interface endpoint"):
                endpoint = create_endpoint(lab, f"{service} interface endpoint", {
                    "VpcEndpointType": "Interface",
                    "VpcId": network.vpc_id,
                    "ServiceName": name,
                    "SubnetIds": list(network.subnet_ids),
                    "SecurityGroupIds": [security_group_id],
                    "PrivateDnsEnabled": True,
                    "TagSpecifications": lab.tag_specifications("vpc-endpoint", f"{service}-endpoint"),
                })
            created.append(endpoint["VpcEndpointId"])
        elif _converge(lab, endpoint, network, security_group_id) or str(endpoint.get("State")).lower() != "available":
            waiting.append(endpoint["VpcEndpointId"])
        results.append(endpoint)
    # Those created, repaired or not yet available; the others were found available just now.
    wait_for_vpc_endpoints(lab, created + waiting)
    return Endpoints(
        endpoints=tuple(
            Endpoint(service=short_service(e["ServiceName"]), endpoint_id=e["VpcEndpointId"]) for e in results
        ),
        created=tuple(created),
    )


def _converge(lab: Lab, endpoint: dict, network: Network, security_group_id: str) -> bool:
    """Put back private DNS, a missing subnet or the endpoint security group, if someone removed them;
    whether anything was."""
    changes: dict = {}
    if not endpoint.get("PrivateDnsEnabled"):
        changes["PrivateDnsEnabled"] = True
    missing_subnets = sorted(set(network.subnet_ids) - set(endpoint.get("SubnetIds", [])))
    if missing_subnets:
        changes["AddSubnetIds"] = missing_subnets
    if security_group_id not in {g["GroupId"] for g in endpoint.get("Groups", [])}:
        changes["AddSecurityGroupIds"] = [security_group_id]
    if changes:
        with explained(f"repairing the endpoint {endpoint['VpcEndpointId']}"):
            lab.client("ec2").modify_vpc_endpoint(VpcEndpointId=endpoint["VpcEndpointId"], **changes)
    return bool(changes)


def ensure_gateway_endpoint(lab: Lab, network: Network, service: str) -> tuple[str, bool]:
    """A gateway endpoint (S3): free, and reached through the route table rather than an interface."""
    ec2 = lab.client("ec2")
    name = service_name(lab, service)
    with explained(f"looking up the {service} gateway endpoint"):
        endpoint = only(
            describe_all(
                ec2,
                "describe_vpc_endpoints",
                "VpcEndpoints",
                Filters=[
                    {"Name": "vpc-id", "Values": [network.vpc_id]},
                    {"Name": "service-name", "Values": [name]},
                    {"Name": "vpc-endpoint-state", "Values": ["pending", "available"]},
                    lab.tag_filter,
                ],
            ),
            f"{service} gateway endpoint",
            "VpcEndpointId",
            lab,
        )
    if endpoint is not None:
        if network.route_table_id not in endpoint.get("RouteTableIds", []):
            with explained(f"adding the route table to the {service} gateway endpoint"):
                ec2.modify_vpc_endpoint(VpcEndpointId=endpoint["VpcEndpointId"], AddRouteTableIds=[network.route_table_id])
        return endpoint["VpcEndpointId"], False
    with explained(f"creating the {service} gateway endpoint"):
        endpoint = create_endpoint(lab, f"{service} gateway endpoint", {
            "VpcEndpointType": "Gateway",
            "VpcId": network.vpc_id,
            "ServiceName": name,
            "RouteTableIds": [network.route_table_id],
            "TagSpecifications": lab.tag_specifications("vpc-endpoint", f"{service}-gateway-endpoint"),
        })
    return endpoint["VpcEndpointId"], True


def create_endpoint(lab: Lab, purpose: str, request: dict) -> dict:
    """CreateVpcEndpoint with a client token (botocore fills none for it): a lost answer's retry, a re-run or
    another machine gets the same endpoint, and a token whose endpoint was deleted is retired."""
    return create_with_token(
        lab, purpose, request, lab.client("ec2").create_vpc_endpoint,
        alive=lambda answer: str(answer["VpcEndpoint"].get("State", "")).lower() not in GONE_ENDPOINT_STATES,
    )["VpcEndpoint"]
