"""Where moto's EC2 is more permissive or less detailed than AWS in a way that would teach
something false (FACTS.md, "moto", measured with moto 5.2.5), and teardown would pass here
and fail on AWS.

One entry point for the EC2 fixes, each kept in its own module:
- `vpce`: interface endpoints get one interface per subnet with a real address of it and
  the endpoint's groups, AWS's DnsEntries, and AWS's validation of private DNS, service
  names and subnets; ModifyVpcEndpoint honours PrivateDnsEnabled;
- `dependencies`: DependencyViolation for deleting a VPC, subnet or security group that
  something still depends on, and the clean-up AWS does by itself (a terminated
  instance's interface, a deleted subnet's associations);
- here: a rule naming a source group is the same rule whatever its description. moto 5.2.5's
  SecurityGroupRule.__eq__ compares the source group's Description too, so revoking a rule
  authorized with a description (`steps.private_host`) without repeating it — what teardown
  does — answered InvalidPermission.NotFound; AWS matches protocol, ports and source ("If the
  security group rule has a description, you do not need to specify the description to
  revoke the rule", EC2 API Reference, RevokeSecurityGroupIngress).
"""

from __future__ import annotations

from typing import Any


def install(app: Any) -> None:
    from ssmlab.emulator import dependencies, vpce

    vpce.install(app)
    dependencies.install(app)
    _rules_match_without_descriptions()


def _rules_match_without_descriptions() -> None:
    import copy

    from moto.ec2.models.security_groups import SecurityGroupRule

    if getattr(SecurityGroupRule.__eq__, "_ssmlab", False):
        return
    original = SecurityGroupRule.__eq__

    def bare(group: Any) -> dict:
        return {k: v for k, v in dict(group or {}).items() if k != "Description"}

    def __eq__(self: Any, other: Any) -> bool:
        if original(self, other):
            return True
        if not (self.source_group and getattr(other, "source_group", None)) or bare(self.source_group) != bare(other.source_group):
            return False
        twin = copy.copy(other)  # the same rule, but for the description
        twin.source_group = self.source_group
        return original(self, twin)

    __eq__._ssmlab = True  # type: ignore[attr-defined]
    SecurityGroupRule.__eq__ = __eq__  # type: ignore[method-assign]
