"""A lab at one moment: `LabState`, what the rules judge, `LabResources`, what teardown removes, and `FoundLab`, a lab
as a search of the whole region finds it (what `cleanup --all-labs` chooses from). Pure data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ssmlab.model.compute import Image, Instance
from ssmlab.model.iam import IamProfile, IamRole, InstanceProfile, Role
from ssmlab.model.kms import PENDING_DELETION, KmsKey
from ssmlab.model.network import (
    EicEndpoint,
    NetworkAcl,
    NetworkInterface,
    PrefixList,
    RouteTable,
    SecurityGroup,
    Subnet,
    Vpc,
    VpcEndpoint,
)
from ssmlab.model.tags import Tags, has_lab_tag


@dataclass(frozen=True)
class LogGroup:
    name: str
    tags: Tags = ()


@dataclass(frozen=True)
class Bucket:
    name: str
    tags: Tags = ()
    versions: tuple[tuple[str, str | None], ...] = ()  # (key, version id) of every object version and delete marker


@dataclass(frozen=True)
class PreferencesDocument:
    name: str
    tags: Tags = ()
    content: str = ""


@dataclass(frozen=True)
class Parameter:
    name: str
    value: str
    tags: Tags = ()


@dataclass(frozen=True)
class LabState:
    """Everything read back about one lab (or one VPC), at one moment."""

    region: str
    lab: str | None = None
    vpcs: tuple[Vpc, ...] = ()
    subnets: tuple[Subnet, ...] = ()
    route_tables: tuple[RouteTable, ...] = ()
    network_acls: tuple[NetworkAcl, ...] = ()
    security_groups: tuple[SecurityGroup, ...] = ()
    endpoints: tuple[VpcEndpoint, ...] = ()
    network_interfaces: tuple[NetworkInterface, ...] = ()
    prefix_lists: tuple[PrefixList, ...] = ()
    images: tuple[Image, ...] = ()
    instances: tuple[Instance, ...] = ()
    instance_profiles: tuple[InstanceProfile, ...] = ()
    roles: tuple[Role, ...] = ()
    session_preferences: dict | None = None  # the region's preferences' inputs (read for a lab's snapshot only)
    kms_keys: tuple[KmsKey, ...] = ()  # the lab's session key and the one the preferences name (`kmskey`; likewise)
    taken_at: datetime | None = None

    def instance(self, instance_id: str) -> Instance | None:
        return next((i for i in self.instances if i.instance_id == instance_id), None)

    def security_group(self, group_id: str) -> SecurityGroup | None:
        return next((g for g in self.security_groups if g.group_id == group_id), None)

    def subnet(self, subnet_id: str) -> Subnet | None:
        return next((s for s in self.subnets if s.subnet_id == subnet_id), None)

    def vpc(self, vpc_id: str | None) -> Vpc | None:
        return next((v for v in self.vpcs if v.vpc_id == vpc_id), None)

    def profile(self, arn: str | None) -> InstanceProfile | None:
        return next((p for p in self.instance_profiles if p.arn == arn), None)

    def role(self, name: str) -> Role | None:
        return next((r for r in self.roles if r.name == name), None)

    def profile_role(self, profile: InstanceProfile | None) -> Role | None:
        """The role a profile gives (a profile holds at most one), if the snapshot has it."""
        return self.role(profile.role_names[0]) if profile and profile.role_names else None

    def instance_role(self, instance: Instance) -> Role | None:
        """The role the agent on `instance` gets its credentials as: its profile's."""
        return self.profile_role(self.profile(instance.profile_arn))

    def image(self, image_id: str | None) -> Image | None:
        return next((i for i in self.images if i.image_id == image_id), None)

    def prefix_list(self, prefix_list_id: str | None) -> PrefixList | None:
        return next((p for p in self.prefix_lists if p.prefix_list_id == prefix_list_id), None)

    def endpoints_for(self, service: str) -> tuple[VpcEndpoint, ...]:
        return tuple(e for e in self.endpoints if e.service == service)

    def route_table_for(self, subnet_id: str) -> RouteTable | None:
        """The subnet's explicit route table, else the VPC's main one (as AWS routes it)."""
        explicit = next((t for t in self.route_tables if subnet_id in t.subnet_ids), None)
        if explicit:
            return explicit
        subnet = self.subnet(subnet_id)
        return next((t for t in self.route_tables if t.main and subnet and t.vpc_id == subnet.vpc_id), None)

    def network_acl_for(self, subnet_id: str) -> NetworkAcl | None:
        return next((n for n in self.network_acls if subnet_id in n.subnet_ids), None)


@dataclass(frozen=True)
class LabResources:
    """Every resource carrying the lab's tag in the region (IAM: by the lab-prefixed names, tag checked).

    `preferences` is the region's preferences document whoever created it (teardown restores
    or deletes it); `empty` counts it only when it carries the lab's tag."""

    lab: str
    region: str
    vpcs: tuple[Vpc, ...] = ()
    subnets: tuple[Subnet, ...] = ()
    route_tables: tuple[RouteTable, ...] = ()
    network_acls: tuple[NetworkAcl, ...] = ()
    security_groups: tuple[SecurityGroup, ...] = ()
    endpoints: tuple[VpcEndpoint, ...] = ()
    eic_endpoints: tuple[EicEndpoint, ...] = ()
    instances: tuple[Instance, ...] = ()
    network_interfaces: tuple[NetworkInterface, ...] = ()
    sessions: tuple[str, ...] = ()  # active Session Manager sessions to the lab's instances
    instance_profiles: tuple[IamProfile, ...] = ()
    roles: tuple[IamRole, ...] = ()
    log_group: LogGroup | None = None
    bucket: Bucket | None = None
    preferences: PreferencesDocument | None = None
    backup_parameter: Parameter | None = None
    saved_preferences: tuple[Parameter, ...] = ()  # every lab's saved copy (preferences.removal reads the chain)
    kms_keys: tuple[KmsKey, ...] = ()  # the lab's session-encryption keys, by tag (pending deletion counts as gone)

    @property
    def empty(self) -> bool:
        return not any(
            (self.vpcs, self.subnets, self.route_tables, self.network_acls, self.security_groups, self.endpoints,
             self.eic_endpoints, self.instances, self.network_interfaces, self.sessions, self.instance_profiles,
             self.roles, self.log_group, self.bucket, self.backup_parameter)
        ) and not any(k.aliases or k.state != PENDING_DELETION for k in self.kms_keys) and not (
            self.preferences and has_lab_tag(self.preferences.tags, self.lab))


@dataclass(frozen=True)
class FoundLab:
    """A lab found in a region by the values of its tag, dated by the oldest creation time that could be read."""

    name: str
    created: datetime | None

    def age(self, now: datetime) -> timedelta | None:
        return None if self.created is None else now - self.created

    def older_than(self, age: timedelta, now: datetime) -> bool:
        """Old enough to remove; a lab of unknown age never is."""
        mine = self.age(now)
        return mine is not None and mine >= age
