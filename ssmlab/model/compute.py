"""The instance, its image and volumes, and what Systems Manager knows of it. Pure data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ssmlab.model.tags import Tags

LAUNCHED_STATES = ["pending", "running", "stopping", "stopped"]  # an instance that is the lab's to keep or start
LIVE_INSTANCE_STATES = LAUNCHED_STATES + ["shutting-down"]  # terminated ones are gone


@dataclass(frozen=True)
class Imds:
    http_endpoint: str  # "enabled" | "disabled"
    http_tokens: str  # "required" (IMDSv2 only) | "optional"
    hop_limit: int = 1


@dataclass(frozen=True)
class Volume:
    volume_id: str
    device: str
    encrypted: bool


@dataclass(frozen=True)
class Instance:
    instance_id: str
    state: str
    vpc_id: str | None
    subnet_id: str | None
    private_ip: str | None
    public_ip: str | None
    image_id: str
    instance_type: str
    group_ids: tuple[str, ...]
    profile_arn: str | None
    imds: Imds
    root_device: str | None
    volumes: tuple[Volume, ...]
    launch_time: datetime | None = None
    tags: Tags = ()

    @property
    def root_volume(self) -> Volume | None:
        return next((v for v in self.volumes if v.device == self.root_device), None)


@dataclass(frozen=True)
class Image:
    image_id: str
    name: str
    owner: str = ""


@dataclass(frozen=True)
class NodeFacts:
    """DescribeInstanceInformation's view of one instance (ping_status None: not registered)."""

    instance_id: str
    ping_status: str | None
    agent_version: str | None = None
    platform: str = ""
    last_ping: datetime | None = None
    status_check: str | None = None  # EC2's instance status check: "initializing" while the instance boots
