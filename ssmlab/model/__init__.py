"""The lab's state as frozen dataclasses, with no AWS import: what `inventory` reads AWS into, and what every pure
rule (netpath, policy, registration, doctor, diagram scene, cost, teardown plan) takes. Unit tests build these by
hand (`tests/builders.py`)."""

from ssmlab.model.compute import (
    LAUNCHED_STATES,
    LIVE_INSTANCE_STATES,
    Image,
    Imds,
    Instance,
    NodeFacts,
    Volume,
)
from ssmlab.model.iam import IamProfile, IamRole, InstanceProfile, Policy, Role
from ssmlab.model.kms import DELETION_DAYS, ENABLED, PENDING_DELETION, KmsKey
from ssmlab.model.network import (
    GONE_ENDPOINT_STATES,
    LIVE_EICE_STATES,
    EicEndpoint,
    NaclEntry,
    NetworkAcl,
    NetworkInterface,
    PrefixList,
    Route,
    RouteTable,
    SecurityGroup,
    SgRule,
    Subnet,
    Vpc,
    VpcEndpoint,
)
from ssmlab.model.state import (
    Bucket,
    FoundLab,
    LabResources,
    LabState,
    LogGroup,
    Parameter,
    PreferencesDocument,
)
from ssmlab.model.tags import TAG_KEY, Tags, has_lab_tag, kit_tags

__all__ = [
    "LAUNCHED_STATES", "LIVE_INSTANCE_STATES", "Image", "Imds", "Instance", "NodeFacts", "Volume",
    "IamProfile", "IamRole", "InstanceProfile", "Policy", "Role",
    "DELETION_DAYS", "ENABLED", "PENDING_DELETION", "KmsKey",
    "GONE_ENDPOINT_STATES", "LIVE_EICE_STATES", "EicEndpoint", "NaclEntry", "NetworkAcl", "NetworkInterface",
    "PrefixList", "Route", "RouteTable", "SecurityGroup", "SgRule", "Subnet", "Vpc", "VpcEndpoint",
    "Bucket", "FoundLab", "LabResources", "LabState", "LogGroup", "Parameter", "PreferencesDocument",
    "TAG_KEY", "Tags", "has_lab_tag", "kit_tags",
]
