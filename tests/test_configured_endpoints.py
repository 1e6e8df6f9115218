"""Target aws refuses every endpoint URL boto3 would take from outside ssmlab — the service-specific
variables, AWS_ENDPOINT_URL, and the shared config's endpoint_url and services section — before any
call; AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true switches them off, and then nothing is refused."""

from __future__ import annotations

import os

import pytest

from ssmlab.errors import BadInput
from ssmlab.lab import SERVICES, Lab

URL = "http://127.0.0.1:4566"
# botocore's names (ConfiguredEndpointProvider): the service id, snake-cased and upper-cased
VARIABLES = {"ec2": "AWS_ENDPOINT_URL_EC2", "iam": "AWS_ENDPOINT_URL_IAM", "logs": "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
             "pricing": "AWS_ENDPOINT_URL_PRICING", "s3": "AWS_ENDPOINT_URL_S3", "ssm": "AWS_ENDPOINT_URL_SSM",
             "sts": "AWS_ENDPOINT_URL_STS", "kms": "AWS_ENDPOINT_URL_KMS",
             "resourcegroupstaggingapi": "AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API"}


@pytest.fixture
def clean(monkeypatch, tmp_path):
    """No AWS settings but dummy keys and an AWS config file of the test's own."""
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    config = tmp_path / "config"
    config.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    return config


def refused(service: str = "ec2") -> str:
    with pytest.raises(BadInput) as error:
        Lab("demo", "ap-northeast-1", "aws").client(service)
    message = str(error.value)
    assert "\n" not in message and "while the target is aws" in message and "--target emulator" in message
    return message


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_specific_variable_is_refused_by_its_botocore_name(clean, monkeypatch, service):
    monkeypatch.setenv(VARIABLES[service], URL)
    assert refused().startswith(f"{VARIABLES[service]} is set to {URL!r} while the target is aws: "
                                f"boto3 would send ssmlab's {service} calls there")


def test_the_global_variable_is_refused(clean, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", URL)
    assert refused().startswith(f"AWS_ENDPOINT_URL is set to {URL!r} while")


def test_every_place_is_named_the_first_with_its_value(clean, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", URL)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:5000")
    assert refused().startswith(f"AWS_ENDPOINT_URL_EC2 is set to {URL!r} (and AWS_ENDPOINT_URL_STS) while")


def test_the_config_profiles_endpoint_url_is_refused(clean):
    clean.write_text(f"[default]\nendpoint_url = {URL}\n")
    assert refused().startswith(f"endpoint_url ({clean}, profile default) is set to {URL!r}")


def test_a_services_section_is_refused(clean, monkeypatch):
    clean.write_text(f"[profile lab]\nservices = local\n\n[services local]\ncloudwatch_logs =\n  endpoint_url = {URL}\n")
    monkeypatch.setenv("AWS_PROFILE", "lab")
    assert refused().startswith(f"endpoint_url for cloudwatch_logs in [services local] ({clean}, profile lab) "
                                f"is set to {URL!r} while the target is aws: boto3 would send ssmlab's logs calls")


def test_a_missing_services_section_is_bad_input(clean):
    clean.write_text("[default]\nservices = nowhere\n")
    with pytest.raises(BadInput, match="invalid AWS config: .*\"nowhere\" services configuration does not exist"):
        Lab("demo", "ap-northeast-1", "aws").client("ec2")


@pytest.mark.parametrize("where", ["environment", "config"])
def test_ignoring_configured_endpoints_leaves_nothing_to_refuse(clean, monkeypatch, where):
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", URL)
    clean.write_text(f"[default]\nendpoint_url = {URL}\n" + ("ignore_configured_endpoint_urls = true\n" if where == "config" else ""))
    if where == "environment":
        monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    client = Lab("demo", "ap-northeast-1", "aws").client("ec2")
    assert client.meta.endpoint_url == "https://ec2.ap-northeast-1.amazonaws.com"


@pytest.mark.emulator
def test_the_emulator_target_ignores_them(emulator, clean, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", URL)
    assert Lab("demo", "ap-northeast-1", "emulator").client("ec2").meta.endpoint_url == emulator.endpoint_url


def test_a_service_outside_the_list_is_checked_when_its_client_is_made(clean, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT", URL)
    Lab("demo", "ap-northeast-1", "aws").client("ec2")  # the kit's own services: nothing configured
    assert refused("ec2-instance-connect").startswith(f"AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT is set to {URL!r}")


@pytest.mark.emulator
@pytest.mark.parametrize("command", [["build"], ["status"], ["doctor"], ["cleanup", "--yes"]])
def test_the_command_refuses_before_any_call_even_with_every_service_pointed_at_the_emulator(emulator, command):
    from ssmlab import teardown
    from ssmlab.emulator import control

    name = "endpoint-" + command[0]
    pointed = {variable: emulator.endpoint_url for variable in VARIABLES.values()}
    env = {**pointed, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "ap-northeast-1"}
    done = emulator.cli(command[0], "--lab", name, "--target", "aws", *command[1:], env=env)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"ssmlab: error: AWS_ENDPOINT_URL_EC2 is set to {emulator.endpoint_url!r} (and "), lines
    assert "REAL AWS" not in done.stdout
    on_emulator = Lab(name, "ap-northeast-1", "emulator")
    assert control.calls(on_emulator)["calls"] == [] and teardown.audit(on_emulator) == []
