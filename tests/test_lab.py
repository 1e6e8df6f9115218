"""The Lab value: validation, tags, and which AWS its clients talk to."""

import pytest

from ssmlab.errors import BadInput
from ssmlab.lab import TAG_KEY, Lab


@pytest.mark.parametrize("name", ["a", "demo", "alice-01", "x" * 24, "ws-2026-11-29"])
def test_valid_lab_names(name):
    assert Lab(name, "ap-northeast-1", "emulator").name == name


@pytest.mark.parametrize("name", ["", "Demo", "1lab", "-lab", "lab_1", "lab.1", "x" * 25, "lab name"])
def test_invalid_lab_names_name_the_value_and_the_form(name):
    with pytest.raises(BadInput) as error:
        Lab(name, "ap-northeast-1", "emulator")
    assert repr(name) in str(error.value)
    assert "1-24 lowercase letters, digits or hyphens, starting with a letter" in str(error.value)


@pytest.mark.parametrize("region", ["ap-northeast-9", "tokyo", "us-east-1a", ""])
def test_invalid_regions_are_refused(region):
    with pytest.raises(BadInput, match="expected an AWS region code"):
        Lab("demo", region, "emulator")


def test_invalid_target_is_refused():
    with pytest.raises(BadInput, match="expected 'emulator' or 'aws'"):
        Lab("demo", "ap-northeast-1", "localstack")


def test_defaults_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("SSMLAB_TARGET", raising=False)
    lab = Lab("demo")
    assert (lab.region, lab.target) == ("ap-northeast-1", "emulator")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert Lab("demo").region == "eu-west-1"
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv("SSMLAB_TARGET", "aws")
    assert (Lab("demo").region, Lab("demo").target) == ("us-west-2", "aws")


def test_every_resource_gets_the_lab_tag_and_a_readable_name():
    lab = Lab("demo", "ap-northeast-1", "emulator")
    assert lab.tags("vpc") == [{"Key": TAG_KEY, "Value": "demo"}, {"Key": "Name", "Value": "demo-vpc"}]
    assert lab.tag_filter == {"Name": "tag:ssmlab:lab", "Values": ["demo"]}
    assert lab.iam_name("ssm-instance-role") == "demo-ssm-instance-role"


def test_aws_target_without_credentials_is_bad_input(monkeypatch, tmp_path):
    for name in (
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(BadInput, match="no AWS credentials found for target aws"):
        Lab("demo", "ap-northeast-1", "aws").client("ec2")


def test_aws_target_refuses_an_endpoint_override(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    with pytest.raises(BadInput, match="AWS_ENDPOINT_URL is set"):
        Lab("demo", "ap-northeast-1", "aws").client("ec2")


def test_emulator_clients_never_use_the_users_credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    monkeypatch.setenv("SSMLAB_EMULATOR_URL", "http://127.0.0.1:1")
    lab = Lab("demo", "ap-northeast-1", "emulator")
    credentials = lab.session.get_credentials()
    assert credentials.access_key == "testing"
