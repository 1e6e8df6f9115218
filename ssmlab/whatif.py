"""Pure "what if" questions over a LabState, for the notebooks: the state changed in memory, never in AWS.

Notebook 02 uses it to show the widely copied Terraform sample's pitfall — an ingress block
for port 443 without `cidr_blocks` or `security_groups` allows nothing — on the learner's
own endpoint security group, without breaking anything.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from ssmlab import sgrules
from ssmlab.model import LabState


def endpoint_ingress(state: LabState, *, without_source: bool = False) -> sgrules.SgVerdict:
    """Does the lab's endpoint SG let HTTPS in from the lab's private subnet(s)?

    `without_source=True` asks it of the same group with every rule's source removed, as the
    Terraform sample declares it.
    """
    group = next((g for g in state.security_groups if g.name == f"{state.lab}-endpoints"), None)
    if group is None:
        return sgrules.SgVerdict(False, f"lab {state.lab} has no endpoint security group yet", None)
    if without_source:
        sourceless = tuple(replace(r, cidr=None, ipv6_cidr=None, prefix_list_id=None, source_group_id=None)
                           for r in group.ingress)
        state = replace(state, security_groups=tuple(
            replace(g, ingress=sourceless) if g.group_id == group.group_id else g for g in state.security_groups))
    subnets = [s for s in state.subnets if s.vpc_id == group.vpc_id]
    peer = sgrules.Peer(  # the lab's instances: in its subnets, carrying its instance group (a source-group rule counts)
        label="the private subnet " + ", ".join(s.cidr for s in subnets),
        networks=tuple(ipaddress.ip_network(s.cidr) for s in subnets),
        group_ids=tuple(g.group_id for g in state.security_groups if g.name == f"{state.lab}-instance"),
    )
    return sgrules.check(state, (group.group_id,), "ingress", peer)
