"""What a cleanup leaves, and why, known before it starts (pure).

Teardown deletes only what carries the lab's tag. Something else inside the lab's VPC — an
instance a colleague launched into the lab's subnet, a network interface of another
service — is not the lab's to delete, yet while it is there AWS refuses to delete the
subnet it sits in, the security groups it uses and the VPC (DependencyViolation). Retrying
does not help; naming it does. So the plan finds these occupants up front: each deletion
they block carries the reason, and the cleanup fails it at once with the occupant's id and
the command that would remove it, instead of retrying for a minute in silence.

The region's Session Manager preferences are left too when they are not the lab's to restore
(`preferences.removal` says which, and why).
"""

from __future__ import annotations

from dataclasses import dataclass

from ssmlab import kmskey, preferences
from ssmlab.model import LabResources, NetworkInterface, has_lab_tag
from ssmlab.model import TAG_KEY
from ssmlab.preferences import Outlook


@dataclass(frozen=True)
class Occupant:
    """Something in the lab's VPC that is not the lab's, and what of the lab it holds."""

    what: str  # "instance i-0abc" | "network interface eni-0abc (description)"
    remove: str  # the command that would remove it, if it is the reader's to remove
    holds: tuple[str, ...]  # ids of the lab's subnets, security groups and VPC it keeps from deletion

    def explain(self, lab: str) -> str:
        return (f"{self.what} is not lab {lab}'s (no {TAG_KEY}={lab} tag) but sits in its VPC: it holds "
                f"{', '.join(self.holds)}; if it is yours to remove: {self.remove}; then run the cleanup again")


def occupants(resources: LabResources) -> tuple[Occupant, ...]:
    """Network interfaces in the lab's VPCs that belong to nothing of the lab's, grouped by what they belong to."""
    lab = resources.lab
    vpcs = {v.vpc_id for v in resources.vpcs if has_lab_tag(v.tags, lab)}
    ours = {i.instance_id for i in resources.instances if has_lab_tag(i.tags, lab)}
    released = {eni for e in (*resources.endpoints, *resources.eic_endpoints) if has_lab_tag(e.tags, lab)
                for eni in e.network_interface_ids}
    lab_groups = {g.group_id for g in resources.security_groups if has_lab_tag(g.tags, lab) and g.name != "default"}
    lab_subnets = {s.subnet_id for s in resources.subnets if has_lab_tag(s.tags, lab)}
    by_owner: dict[str, list[NetworkInterface]] = {}
    for eni in resources.network_interfaces:
        if eni.vpc_id not in vpcs or eni.instance_id in ours or eni.eni_id in released or has_lab_tag(eni.tags, lab):
            continue
        by_owner.setdefault(eni.instance_id or eni.eni_id, []).append(eni)
    found = []
    for owner, enis in sorted(by_owner.items()):
        holds = sorted({e.subnet_id for e in enis if e.subnet_id in lab_subnets}) + sorted(
            {g for e in enis for g in e.group_ids if g in lab_groups}) + sorted({e.vpc_id for e in enis})
        if owner.startswith("i-"):
            found.append(Occupant(f"instance {owner}", f"aws ec2 terminate-instances --instance-ids {owner}", tuple(holds)))
        else:
            eni = enis[0]
            kind = eni.description or eni.interface_type
            found.append(Occupant(f"network interface {owner} ({kind})",
                                  f"aws ec2 delete-network-interface --network-interface-id {owner}", tuple(holds)))
    return tuple(found)


def blocking(occupants_found: tuple[Occupant, ...], resource_id: str) -> tuple[Occupant, ...]:
    """The occupants that keep `resource_id` (a subnet, security group or VPC id) from being deleted."""
    return tuple(o for o in occupants_found if resource_id in o.holds)


def preferences_outlook(resources: LabResources) -> Outlook:
    """What removing the lab does to the region's Session Manager preferences, and what it leaves with why.

    Only the lab's own saved copy counts as the lab's (its tag is checked); the others are the chain around it."""
    own = resources.backup_parameter  # read with its tags: None unless it carries the lab's tag
    saved = tuple(p for p in resources.saved_preferences if preferences.saved_by(p) != resources.lab)
    keys = kmskey.owners(resources.kms_keys, resources.lab)  # a kmsKeyId of the lab's makes the preferences its own
    return preferences.removal(resources.lab, resources.preferences, saved + ((own,) if own else ()), keys)


def notes(resources: LabResources) -> list[str]:
    """What the cleanup leaves, with why: occupants of the lab's VPC that are not the lab's, and the region's
    Session Manager preferences when they are not the lab's to restore, and the lab's KMS key (only scheduled for
    deletion: AWS waits 7 days at least)."""
    return [o.explain(resources.lab) for o in occupants(resources)] + list(preferences_outlook(resources).notes) + \
        kmskey.notes(resources.kms_keys, resources.lab)


PREFERENCE_KINDS = ("preferences", "saved preferences", "preferences tag")
"""The teardown steps that concern the region's Session Manager preferences (notebook 07 restores only these)."""
