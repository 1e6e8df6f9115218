"""The doctor's edge: read everything it needs (inventory), then diagnose (pure).

One snapshot per VPC and one DescribeInstanceInformation per 50 instances, so the number
of API calls does not grow with the number of instances, rules or endpoints.
"""

from __future__ import annotations

from dataclasses import replace

from ssmlab import doctor, encryption, inventory, policy, status
from ssmlab.inventory import kms as inventory_kms
from ssmlab.aws import together
from ssmlab.findings import advice
from ssmlab.lab import Lab


def checkup(lab: Lab, instance_id: str | None = None) -> list[doctor.Diagnosis]:
    """Diagnose one instance (any instance in the region), or every instance of the lab."""
    state = inventory.snapshot(lab, instance_id=instance_id) if instance_id else inventory.snapshot(lab)
    ids = [instance_id] if instance_id else [i.instance_id for i in state.instances if dict(i.tags).get("ssmlab:lab") == lab.name]
    if not ids:
        return [doctor.Diagnosis(None, lab.region, None, (doctor.Finding(
            "INSTANCE_NOT_FOUND", "error", None, f"lab {lab.name} has no instance in {lab.region}",
            advice(f"build it: ssmlab build --lab {lab.name} --region {lab.region}"),
        ),), state=state)]
    running = [i for i in ids if (state.instance(i) is not None and state.instance(i).state == "running")]
    nodes, preferences, dhmc_role = together(  # three independent reads at once
        lambda: inventory.node_facts(lab, running) if running else {},
        lambda: state.session_preferences if state.lab else inventory.session_preferences(lab),  # a lab's snapshot has it
        lambda: inventory.default_host_management_role(lab),
    )
    if not state.lab and encryption.key_ref(preferences):  # an instance's snapshot: read the key they name, too
        state = replace(state, kms_keys=inventory_kms.with_named(lab, (), encryption.key_ref(preferences)))
    simulated = _simulations(lab, state, running)
    twice = () if instance_id else tuple(status.duplicates(state))  # a lab's own checkup
    return [
        doctor.diagnose(
            state, i, node=nodes.get(i), preferences=preferences, dhmc_role=dhmc_role,
            simulated_missing=simulated.get(i), duplicates=twice,
        )
        for i in ids
    ]


def _simulations(lab: Lab, state, instance_ids: list[str]) -> dict[str, tuple[str, ...]]:
    """On real AWS, ask IAM's simulator about each distinct role (when the caller may)."""
    if lab.is_emulator:
        return {}  # moto has no IAM policy simulation (FACTS.md): the documents are evaluated instead
    actions = policy.SESSION_MANAGER_ACTIONS
    by_role: dict[str, tuple[str, ...] | None] = {}
    result: dict[str, tuple[str, ...]] = {}
    for instance_id in instance_ids:
        role = state.instance_role(state.instance(instance_id))
        if role is None:
            continue
        if role.arn not in by_role:
            by_role[role.arn] = inventory.simulate_role(lab, role.arn, actions)
        if by_role[role.arn] is not None:
            result[instance_id] = by_role[role.arn]
    return result
