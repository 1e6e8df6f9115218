"""Step 5, the instance: Amazon Linux 2023 (SSM Agent preinstalled) in the private subnet.

No public IP, no inbound rule, IMDSv2 required (the agent reads its credentials from IMDS,
and IMDSv2 works: AWS Systems Manager User Guide, "SSM Agent technical details"), and an
encrypted root volume. The AMI id is the public SSM parameter for the region, so the lab
always gets the latest image.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ssmlab.aws import describe_all, error_code, explain, explained, only, wait
from ssmlab.errors import LabError
from ssmlab.idempotent import create_with_token
from ssmlab.model import LAUNCHED_STATES
from ssmlab.lab import Lab
from ssmlab.steps.iam import InstanceRole
from ssmlab.steps.network import Network
from ssmlab.steps.security_groups import SecurityGroups

AL2023_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
DEFAULT_INSTANCE_TYPE = "t3.micro"
LIVE_STATES = LAUNCHED_STATES
ROLE = "instance"
"""The lab's instance is tagged Name=<lab>-instance (09's extra instance has a Name of its own)."""
# Right after an instance profile is created, EC2 may not see it yet (IAM is eventually
# consistent) and RunInstances answers InvalidParameterValue; these are the waits between tries.
PROFILE_PROPAGATION_BACKOFF = (2, 4, 8, 16, 16)


@dataclass(frozen=True)
class Instance:
    instance_id: str
    image_id: str
    instance_type: str
    private_ip: str
    subnet_id: str
    state: str
    created: tuple[str, ...] = ()


def latest_ami(lab: Lab) -> str:
    with explained(f"reading the public parameter {AL2023_PARAMETER}"):
        return lab.client("ssm").get_parameter(Name=AL2023_PARAMETER)["Parameter"]["Value"]


def ensure(
    lab: Lab,
    network: Network,
    groups: SecurityGroups,
    role: InstanceRole,
    instance_type: str = DEFAULT_INSTANCE_TYPE,
    sleep=time.sleep,
) -> Instance:
    """Find the lab's instance (starting it if it was stopped) or launch it; wait until running."""
    ec2 = lab.client("ec2")
    created: list[str] = []
    with explained("looking up the lab's instance"):
        reservations = describe_all(
            ec2,
            "describe_instances",
            "Reservations",
            Filters=[lab.tag_filter, {"Name": "tag:Name", "Values": [f"{lab.name}-{ROLE}"]},
                     {"Name": "instance-state-name", "Values": LIVE_STATES}],
        )
    found = only([i for r in reservations for i in r["Instances"]], "instance", "InstanceId", lab)
    if found is None:
        found = _launch(lab, network, groups, role, instance_type, sleep)
        created.append(found["InstanceId"])
    elif found["State"]["Name"] in ("stopping", "stopped"):
        instance_id = found["InstanceId"]
        wait(lab, "ec2", "instance_stopped", InstanceIds=[instance_id])
        with explained(f"starting the stopped instance {instance_id}"):
            ec2.start_instances(InstanceIds=[instance_id])

    instance_id = found["InstanceId"]
    if created or found["State"]["Name"] != "running":  # found running: nothing to wait for
        wait(lab, "ec2", "instance_running", InstanceIds=[instance_id])
    return Instance(
        instance_id=instance_id,
        image_id=found["ImageId"],
        instance_type=found["InstanceType"],
        private_ip=found.get("PrivateIpAddress", ""),
        subnet_id=found.get("SubnetId", ""),
        state="running",
        created=tuple(created),
    )


def _launch(
    lab: Lab, network: Network, groups: SecurityGroups, role: InstanceRole, instance_type: str, sleep
) -> dict:
    ec2 = lab.client("ec2")
    image_id = latest_ami(lab)
    with explained(f"describing the AMI {image_id}"):
        images = ec2.describe_images(ImageIds=[image_id])["Images"]
    if not images:
        raise LabError(f"the AMI {image_id} named by {AL2023_PARAMETER} is not available in {lab.region}")
    root_device = images[0].get("RootDeviceName", "/dev/xvda")
    root_ebs = next(
        (m.get("Ebs", {}) for m in images[0].get("BlockDeviceMappings", []) if m.get("DeviceName") == root_device), {}
    )
    # The AMI's own size for its root snapshot; only encryption and the volume type change.
    size = {"VolumeSize": root_ebs["VolumeSize"]} if root_ebs.get("VolumeSize") else {}
    request = dict(
        ImageId=image_id,
        InstanceType=instance_type,
        MinCount=1,
        MaxCount=1,
        SubnetId=network.subnet_ids[0],
        SecurityGroupIds=[groups.instance_sg_id],
        IamInstanceProfile={"Arn": role.profile_arn},
        MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 2},
        BlockDeviceMappings=[
            {
                "DeviceName": root_device,
                "Ebs": {"Encrypted": True, "VolumeType": "gp3", "DeleteOnTermination": True, **size},
            }
        ],
        TagSpecifications=lab.tag_specifications("instance", ROLE) + lab.tag_specifications("volume", "root"),
    )
    from botocore.exceptions import ClientError

    for delay in (*PROFILE_PROPAGATION_BACKOFF, None):
        try:
            return run_instance(lab, "the lab's instance", request)
        except ClientError as error:
            if delay is None or not _profile_not_propagated(error):
                raise explain(error, "launching the instance") from error
        sleep(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")


def _profile_not_propagated(error: Exception) -> bool:
    message = getattr(error, "response", {}).get("Error", {}).get("Message", "")
    return error_code(error) == "InvalidParameterValue" and "iamInstanceProfile" in message.replace(" ", "")


def run_instance(lab: Lab, purpose: str, request: dict) -> dict:
    """RunInstances with a client token of the kit's own, the same for the same lab and request on any machine:
    a retry after a lost answer, a re-run or another machine gets this instance, not a second one. A token
    whose instance was terminated since (AWS keeps it bound for at least 24 hours) is retired."""
    return create_with_token(
        lab, purpose, request, lab.client("ec2").run_instances,
        alive=lambda answer: answer["Instances"][0]["State"]["Name"] in LIVE_STATES,
    )["Instances"][0]
