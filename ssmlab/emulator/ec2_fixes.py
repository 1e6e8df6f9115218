"""Where moto's EC2 is more permissive or less detailed than AWS in a way that would teach
something false (FACTS.md, "moto", measured with moto 5.2.5), and teardown would pass here
and fail on AWS.

One entry point for the EC2 fixes, each kept in its own module:
- `vpce`: interface endpoints get one interface per subnet with a real address of it and
  the endpoint's groups, AWS's DnsEntries, and AWS's validation of private DNS, service
  names and subnets; ModifyVpcEndpoint honours PrivateDnsEnabled;
- `dependencies`: DependencyViolation for deleting a VPC, subnet or security group that
  something still depends on, and the clean-up AWS does by itself (a terminated
  instance's interface, a deleted subnet's associations).
"""

from __future__ import annotations

from typing import Any


def install(app: Any) -> None:
    from ssmlab.emulator import dependencies, vpce

    vpce.install(app)
    dependencies.install(app)
