"""Which AMIs ship the SSM Agent, by AMI name. Pure.

AWS Systems Manager User Guide, "Find AMIs with the SSM Agent preinstalled" (FACTS.md), as
of 2026: AlmaLinux; Amazon Linux 2; Amazon Linux 2 ECS-Optimized Base AMIs; Amazon Linux
2023; Amazon EKS-Optimized Amazon Linux AMIs; macOS 13.x, 14.x and 15.x; SUSE Linux
Enterprise Server 15.3 and later; Ubuntu Server 18.04 to 25.04; Windows Server 2012 R2 AMIs
published in November 2016 or later, 2016, 2019, 2022 (excluding Nano) and 2025. The page
adds that the agent "might be preinstalled" on other AWS AMIs, and that an instance from a
listed AMI may still lack it or not run it.

Three answers, since one family is neither listed nor excluded:
- `preinstalled`: a family on the page;
- `unconfirmed`: the page lists "Amazon Linux 2023" (and "Amazon Linux 2") without saying
  whether their *minimal* AMIs include the agent, and AWS's page confirms it neither way
  (some public sources say the minimal AMI lacks it: single, unofficial sources) — the
  doctor says it is unconfirmed, never asserts either way;
- `absent`: anything else, e.g. Debian, RHEL, Rocky, Windows Nano (the agent may have been
  installed by hand: the doctor warns, it does not conclude).
AMI names (the prefixes below) are those AWS publishes them under, e.g.
`al2023-ami-2023.6.20241212.0-kernel-6.1-x86_64`, `al2023-ami-minimal-…`,
`amzn2-ami-ecs-hvm-2.0.…-x86_64-ebs`, `al2023-ami-ecs-hvm-2023.0.…`,
`amazon-eks-node-1.30-v…`, `amazon-eks-node-al2023-x86_64-standard-1.34-v…`,
`amzn-ec2-macos-15.7.4-…-arm64`, `AlmaLinux OS 9.4.20240507 x86_64`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREINSTALLED, UNCONFIRMED, ABSENT = "preinstalled", "unconfirmed", "absent"

LINUX = "Linux"
AL2023 = {"PlatformType": LINUX, "PlatformName": "Amazon Linux", "PlatformVersion": "2023"}
AL2 = {"PlatformType": LINUX, "PlatformName": "Amazon Linux", "PlatformVersion": "2"}


@dataclass(frozen=True)
class Family:
    pattern: str  # a regular expression matched at the start of the AMI name
    platform: dict
    status: str
    listed_as: str  # what AWS's page (or the kit, for an unlisted family) calls it


# Order matters: the first match wins, so the narrower names (minimal, ECS, Nano) come before their family's.
FAMILIES: tuple[Family, ...] = (
    Family(r"al2023-ami-minimal-", AL2023, UNCONFIRMED, "Amazon Linux 2023 minimal AMI"),
    Family(r"amzn2-ami-minimal-", AL2, UNCONFIRMED, "Amazon Linux 2 minimal AMI"),
    Family(r"Windows_Server-[^ ]*Nano", {"PlatformType": "Windows", "PlatformName": "Microsoft Windows Server",
                                         "PlatformVersion": ""}, ABSENT, "Windows Server Nano (excluded by AWS)"),
    Family(r"amzn2-ami-ecs-", AL2, PREINSTALLED, "Amazon Linux 2 ECS-Optimized Base AMI"),
    Family(r"al2023-ami-ecs-", AL2023, PREINSTALLED, "Amazon ECS-optimized Amazon Linux 2023 AMI (Amazon Linux 2023)"),
    Family(r"amazon-eks-[a-z0-9-]*al2023-", AL2023, PREINSTALLED, "Amazon EKS-Optimized Amazon Linux AMI (AL2023)"),
    Family(r"amazon-eks-", AL2, PREINSTALLED, "Amazon EKS-Optimized Amazon Linux AMI"),
    Family(r"al2023-ami-", AL2023, PREINSTALLED, "Amazon Linux 2023"),
    Family(r"amzn2-ami-", AL2, PREINSTALLED, "Amazon Linux 2"),
    Family(r"amzn-ec2-macos-", {"PlatformType": "MacOS", "PlatformName": "macOS", "PlatformVersion": ""},
           PREINSTALLED, "macOS (13.x Ventura, 14.x Sonoma, 15.x Sequoia)"),
    Family(r"AlmaLinux OS ", {"PlatformType": LINUX, "PlatformName": "AlmaLinux", "PlatformVersion": ""},
           PREINSTALLED, "AlmaLinux"),
    Family(r"ubuntu/images/", {"PlatformType": LINUX, "PlatformName": "Ubuntu", "PlatformVersion": ""},
           PREINSTALLED, "Ubuntu Server (the agent as a snap)"),
    Family(r"suse-sles-", {"PlatformType": LINUX, "PlatformName": "SLES", "PlatformVersion": ""},
           PREINSTALLED, "SUSE Linux Enterprise Server"),
    Family(r"Windows_Server-", {"PlatformType": "Windows", "PlatformName": "Microsoft Windows Server",
                                "PlatformVersion": ""}, PREINSTALLED, "Windows Server"),
)


def family(ami_name: str | None) -> Family | None:
    """The family an AMI name belongs to, or None (a name the kit does not know)."""
    return next((f for f in FAMILIES if ami_name and re.match(f.pattern, ami_name)), None)


def agent_status(ami_name: str | None) -> str:
    """`preinstalled`, `unconfirmed` or `absent` (see the module's docstring)."""
    found = family(ami_name)
    return found.status if found else ABSENT


def platform_for(ami_name: str | None) -> dict[str, str] | None:
    """The platform facts (DescribeInstanceInformation's PlatformType/Name/Version) of an AMI whose agent is
    preinstalled *or unconfirmed*, else None. Whether an agent runs on an unconfirmed AMI is the caller's choice
    (the emulator's simulation names its own); `agent_status` tells the two apart."""
    found = family(ami_name)
    return dict(found.platform) if found and found.status != ABSENT else None


STANDARD_AMI = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
MANUAL = 'User Guide, "Manually installing SSM Agent"'


def advice(image_id: str, ami_name: str | None) -> tuple[str, str, str, str] | None:
    """The doctor's (code, resource, message, fix) for an AMI that may not ship the agent; None when it does."""
    found = family(ami_name)
    status = found.status if found else ABSENT
    if status == PREINSTALLED:
        return None
    if status == UNCONFIRMED:
        message = (f"whether the AMI {image_id} ({ami_name}, an {found.listed_as}) ships the SSM Agent is unconfirmed: "
                   "AWS's list (User Guide, \"Find AMIs with the SSM Agent preinstalled\") names the family without "
                   "saying whether its minimal AMIs include the agent")
        fix = ("check on the instance (sudo systemctl status amazon-ssm-agent, e.g. through EC2 Instance Connect), "
               f"install it if it is missing (sudo dnf install -y amazon-ssm-agent; {MANUAL}), or launch from the "
               f"standard AMI: the parameter {STANDARD_AMI}")
        return "AGENT_PREINSTALL_UNCONFIRMED", image_id, message, fix
    message = f"the AMI {image_id} ({ami_name or 'no name'}) is not one that ships the SSM Agent" + (
        f" ({found.listed_as})" if found else "")
    return ("AGENT_NOT_PREINSTALLED", image_id, message,
            f"install the agent ({MANUAL}) or launch from Amazon Linux 2023: the parameter {STANDARD_AMI}")
