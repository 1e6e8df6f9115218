"""Launching right after the profile exists: IAM propagation is retried, other errors are not."""

import pytest
from botocore.exceptions import ClientError

from ssmlab.errors import LabError
from ssmlab.lab import Lab
from ssmlab.steps import instance
from ssmlab.steps.iam import InstanceRole
from ssmlab.steps.network import Network
from ssmlab.steps.security_groups import SecurityGroups

PROPAGATION = ClientError(
    {"Error": {"Code": "InvalidParameterValue", "Message": "Value (arn:aws:iam::1:instance-profile/p) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN"}},
    "RunInstances",
)


class FakeEc2:
    """Answers describe_images and fails run_instances a given number of times."""

    def __init__(self, failures, error=PROPAGATION):
        self.failures, self.error, self.calls, self.tokens = failures, error, 0, []

    def describe_images(self, ImageIds):
        return {"Images": [{"RootDeviceName": "/dev/xvda", "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}]}]}

    def run_instances(self, **request):
        self.calls += 1
        self.tokens.append(request["ClientToken"])
        if self.calls <= self.failures:
            raise self.error
        assert request["BlockDeviceMappings"][0]["Ebs"] == {"Encrypted": True, "VolumeType": "gp3", "DeleteOnTermination": True, "VolumeSize": 8}
        assert request["MetadataOptions"]["HttpTokens"] == "required"
        return {"Instances": [{"InstanceId": "i-1", "State": {"Code": 0, "Name": "pending"}}]}


class FakeLab(Lab):
    def client(self, service, region=None):
        return self.__dict__["fake"]


def launch(fake, monkeypatch):
    lab = FakeLab("demo", "ap-northeast-1", "emulator")
    lab.__dict__["fake"] = fake
    monkeypatch.setattr(instance, "latest_ami", lambda lab: "ami-1")
    slept = []
    network = Network("vpc-1", "10.0.0.0/16", ("subnet-1",), ("10.0.0.0/24",), ("ap-northeast-1a",), "rtb-1")
    role = InstanceRole("r", "arn:r", "p", "arn:p")
    result = instance._launch(lab, network, SecurityGroups("sg-e", "sg-i"), role, "t3.micro", slept.append)
    return result, slept


def test_profile_propagation_is_retried_with_backoff(monkeypatch):
    fake = FakeEc2(failures=3)
    result, slept = launch(fake, monkeypatch)
    assert result["InstanceId"] == "i-1"
    assert slept == list(instance.PROFILE_PROPAGATION_BACKOFF[:3])
    # one launch, one client token: an attempt that got through but whose answer was lost is not repeated
    assert len(set(fake.tokens)) == 1 and len(fake.tokens[0]) <= 64


def test_propagation_retries_are_bounded(monkeypatch):
    fake = FakeEc2(failures=99)
    with pytest.raises(LabError, match="InvalidParameterValue"):
        launch(fake, monkeypatch)
    assert fake.calls == len(instance.PROFILE_PROPAGATION_BACKOFF) + 1


def test_other_errors_are_not_retried(monkeypatch):
    capacity = ClientError({"Error": {"Code": "InsufficientInstanceCapacity", "Message": "no capacity"}}, "RunInstances")
    fake = FakeEc2(failures=1, error=capacity)
    with pytest.raises(LabError, match="no capacity for this instance type"):
        launch(fake, monkeypatch)
    assert fake.calls == 1
