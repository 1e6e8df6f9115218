"""Requester-managed network interfaces (VPC endpoints, ...) made the way AWS makes them.

moto gives an interface endpoint's interface a random address that is usually outside its
subnet and never reserved there, so an instance launched later can get the same address
(FACTS.md, moto). Here an interface takes a free address from its subnet's own allocator
(the one moto's instances draw from), so addresses never collide and follow the subnet's
CIDR, and gives it back when the interface goes.

Shared by every emulator extension that needs AWS-managed interfaces (an EC2 Instance
Connect Endpoint puts one in its subnet too). Runs inside the emulator process on moto's
in-memory objects.
"""

from __future__ import annotations

from typing import Any

MANAGED_MARK = "ssmlab_managed_by"
"""Attribute set on the interfaces made here: the id of the resource that owns them."""


def addresses_in_use(backend: Any, subnet: Any) -> set[str]:
    """Every private IPv4 address an interface in `subnet` holds (moto does not reserve
    the ones CreateNetworkInterface picks at random, so the allocator alone is not enough)."""
    return {
        address.get("PrivateIpAddress")
        for eni in list(backend.enis.values())
        if eni.subnet is not None and eni.subnet.id == subnet.id
        for address in eni.private_ip_addresses
    }


def free_address(backend: Any, subnet: Any) -> str:
    """The next free address of the subnet, reserved for the caller (moto's allocator
    skips the first four and the last address, as AWS reserves them)."""
    from moto.ec2.exceptions import EC2ClientError

    taken = addresses_in_use(backend, subnet)
    while True:
        try:
            address = subnet.get_available_subnet_ip(instance=None)
        except StopIteration:
            # EC2 API reference, common client errors: InsufficientFreeAddressesInSubnet.
            raise EC2ClientError("InsufficientFreeAddressesInSubnet",
                                 f"The specified subnet {subnet.id} does not have enough free addresses.") from None
        if address not in taken:
            return address


def create_managed(backend: Any, subnet: Any, *, owner: str, description: str, interface_type: str,
                   groups: list[Any], requester_id: str | None = None) -> Any:
    """A requester-managed, in-use interface in `subnet` with a free address of it and
    `groups` (moto security group objects), marked as owned by `owner`; `requester_id`
    is the AWS service's account or alias that DescribeNetworkInterfaces shows."""
    address = free_address(backend, subnet)
    eni = backend.create_network_interface(subnet, address, description=description)
    subnet._subnet_ips[address] = eni  # the reservation now names its holder
    eni.interface_type = interface_type
    eni.requester_managed = True
    if requester_id:
        eni.requester_id = requester_id
    eni.status = "in-use"
    eni.source_dest_check = True
    eni._group_set = list(groups)
    setattr(eni, MANAGED_MARK, owner)
    return eni


def delete(backend: Any, eni: Any) -> None:
    """Remove the interface and give its addresses back to its subnet (those reserved for
    it, or for the instance it was attached to)."""
    backend.enis.pop(eni.id, None)
    if eni.subnet is None:
        return
    holders = (eni, None, eni.instance)
    for address in eni.private_ip_addresses:
        ip = address.get("PrivateIpAddress")
        if any(eni.subnet._subnet_ips.get(ip, eni) is holder for holder in holders):
            eni.subnet.del_subnet_ip(ip)
