"""Which AMIs ship the SSM Agent (AWS's page "Find AMIs with the SSM Agent preinstalled"), by AMI name, and
what the doctor says: an AMI whose status is unconfirmed (AL2023 minimal) is said to be unconfirmed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ssmlab import amis
from ssmlab.doctor import CODES, diagnose
from ssmlab.model import Image, NodeFacts
from builders import private_lab

NAMES = {
    # name as AWS publishes it: (agent status, PlatformName, PlatformVersion)
    "al2023-ami-2023.6.20241212.0-kernel-6.1-x86_64": (amis.PREINSTALLED, "Amazon Linux", "2023"),
    "amzn2-ami-kernel-5.10-hvm-2.0.20240131.0-x86_64-gp2": (amis.PREINSTALLED, "Amazon Linux", "2"),
    "amzn2-ami-ecs-hvm-2.0.20241120-x86_64-ebs": (amis.PREINSTALLED, "Amazon Linux", "2"),
    "al2023-ami-ecs-hvm-2023.0.20241003-kernel-6.1-x86_64": (amis.PREINSTALLED, "Amazon Linux", "2023"),
    "amazon-eks-node-1.28-v20230919": (amis.PREINSTALLED, "Amazon Linux", "2"),
    "amazon-eks-gpu-node-1.29-v20240307": (amis.PREINSTALLED, "Amazon Linux", "2"),
    "amazon-eks-node-al2023-x86_64-standard-1.34-v20251007": (amis.PREINSTALLED, "Amazon Linux", "2023"),
    "amzn-ec2-macos-15.7.4-20260217-233754-arm64": (amis.PREINSTALLED, "macOS", ""),
    "AlmaLinux OS 9.4.20240507 x86_64": (amis.PREINSTALLED, "AlmaLinux", ""),
    "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20240423": (amis.PREINSTALLED, "Ubuntu", ""),
    "suse-sles-15-sp5-v20240129-hvm-ssd-x86_64": (amis.PREINSTALLED, "SLES", ""),
    "Windows_Server-2022-English-Full-Base-2024.01.16": (amis.PREINSTALLED, "Microsoft Windows Server", ""),
    "al2023-ami-minimal-2023.6.20250317.2-kernel-6.1-x86_64": (amis.UNCONFIRMED, "Amazon Linux", "2023"),
    "amzn2-ami-minimal-hvm-2.0.20240131.0-x86_64-ebs": (amis.UNCONFIRMED, "Amazon Linux", "2"),
    "Windows_Server-2016-English-Nano-Base-2024.01.10": (amis.ABSENT, None, None),
    "debian-12-amd64-20260101": (amis.ABSENT, None, None),
    "RHEL-9.3.0_HVM-20240117-x86_64-49-Hourly2-GP3": (amis.ABSENT, None, None),
}


@pytest.mark.parametrize("name", list(NAMES))
def test_the_list_follows_awss_page(name):
    expected_status, platform_name, version = NAMES[name]
    assert amis.agent_status(name) == expected_status
    platform = amis.platform_for(name)
    if platform_name is None:
        assert platform is None
    else:
        assert (platform["PlatformName"], platform["PlatformVersion"]) == (platform_name, version)
        assert platform["PlatformType"] in ("Linux", "Windows", "MacOS")


def test_no_name_is_absent():
    assert amis.agent_status(None) == amis.agent_status("") == amis.ABSENT and amis.platform_for(None) is None


def with_image(name):
    return replace(private_lab(), images=(Image("ami-1", name),))


def test_an_unconfirmed_ami_is_said_to_be_unconfirmed_not_asserted_either_way():
    diagnosis = diagnose(with_image("al2023-ami-minimal-2023.6.20250317.2-kernel-6.1-x86_64"), "i-1")
    (finding,) = [f for f in diagnosis.findings if f.code.startswith("AGENT_")]
    assert finding.code == "AGENT_PREINSTALL_UNCONFIRMED" and CODES[finding.code] == finding.severity == "warning"
    assert "is unconfirmed" in finding.message and "Amazon Linux 2023 minimal AMI" in finding.message
    assert "does not ship" not in finding.message and "is not one that ships" not in finding.message
    assert "systemctl status amazon-ssm-agent" in finding.fix.text and "al2023-ami-kernel-default-x86_64" in finding.fix.text


def test_an_ami_off_the_list_is_a_warning_and_a_listed_one_is_nothing():
    (finding,) = [f for f in diagnose(with_image("debian-12-amd64-20260101"), "i-1").findings
                  if f.code.startswith("AGENT_")]
    assert finding.code == "AGENT_NOT_PREINSTALLED" and "is not one that ships the SSM Agent" in finding.message
    for name, (status, _, _) in NAMES.items():
        codes = diagnose(with_image(name), "i-1").codes("warning")
        assert ("AGENT_NOT_PREINSTALLED" in codes) == (status == amis.ABSENT), name
        assert ("AGENT_PREINSTALL_UNCONFIRMED" in codes) == (status == amis.UNCONFIRMED), name


def test_a_registered_node_runs_an_agent_whatever_its_ami():
    node = NodeFacts("i-1", "Online", "3.3.1957.0")
    for name in ("al2023-ami-minimal-2023.6.20250317.2-kernel-6.1-x86_64", "debian-12-amd64-20260101"):
        assert not [c for c in diagnose(with_image(name), "i-1", node=node).codes() if c.startswith("AGENT_")]
