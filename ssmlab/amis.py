"""Which AMIs ship the SSM Agent, by AMI name. Pure.

AWS Systems Manager User Guide, "AMIs with SSM Agent preinstalled" (FACTS.md): Amazon
Linux 2 and 2023, Ubuntu Server, SUSE, Windows Server. Any other AMI is taken to have no
agent; the doctor says so as a warning, since it may have been installed by hand.
"""

from __future__ import annotations

AGENT_FAMILIES: tuple[tuple[str, dict[str, str]], ...] = (
    ("al2023-ami-", {"PlatformType": "Linux", "PlatformName": "Amazon Linux", "PlatformVersion": "2023"}),
    ("amzn2-ami-", {"PlatformType": "Linux", "PlatformName": "Amazon Linux", "PlatformVersion": "2"}),
    ("ubuntu/images/", {"PlatformType": "Linux", "PlatformName": "Ubuntu", "PlatformVersion": ""}),
    ("suse-sles-", {"PlatformType": "Linux", "PlatformName": "SLES", "PlatformVersion": ""}),
    ("Windows_Server-", {"PlatformType": "Windows", "PlatformName": "Microsoft Windows Server", "PlatformVersion": ""}),
)


def platform_for(ami_name: str | None) -> dict[str, str] | None:
    """The platform facts of an AMI whose family ships the agent, else None (no agent)."""
    for prefix, platform in AGENT_FAMILIES:
        if ami_name and ami_name.startswith(prefix):
            return dict(platform)
    return None
