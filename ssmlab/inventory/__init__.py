"""The only reader: AWS (real or emulated) read into the model (`ssmlab.model`).

`snapshot` reads a lab, a VPC or one instance's VPC into a LabState, which every rule judges;
`lab_resources` reads everything carrying the lab's tag, which teardown plans from; `find_labs`
every lab in the region, for `cleanup --all-labs`; `node` reads what Systems Manager itself
knows, for the doctor. Nothing downstream calls AWS.
"""

from ssmlab.inventory.iam import lab_iam_names, role
from ssmlab.inventory.labs import find_labs
from ssmlab.inventory.node import (
    DHMC_SETTING,
    connection_status,
    default_host_management_role,
    node_facts,
    session_preferences,
    simulate_role,
)
from ssmlab.inventory.resources import (
    lab_resources,
    preferences_document,
    saved_preferences,
)
from ssmlab.inventory.snapshot import snapshot

__all__ = [
    "DHMC_SETTING", "connection_status", "default_host_management_role", "find_labs", "lab_iam_names", "lab_resources",
    "node_facts", "preferences_document", "role", "saved_preferences", "session_preferences", "simulate_role", "snapshot",
]
