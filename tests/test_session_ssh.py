"""SSH over Session Manager, over real sockets: OpenSSH's `ssh` and paramiko's client, each through the
ProxyCommand `ssmlab ssh-config` writes (`ssmlab ssh-proxy`: EC2 Instance Connect's SendSSHPublicKey, then
AWS-StartSSHSession on standard streams), to the emulator's sshd (`emulator/sshd.py`, a real SSH-2 server)
answering from the simulated instance. Plus SendSSHPublicKey's checks and the 60 seconds a key lasts."""

from __future__ import annotations

import base64
import io
import shutil
import struct
import subprocess

import paramiko
import pytest
from botocore.exceptions import ClientError

from ssmlab.build import BuildOptions, build
from ssmlab.emulator import control
from ssmlab.emulator.agent import AGENT_START_DELAY
from ssmlab.emulator.instance_connect import KEY_LIFETIME, PushedKeys, parse_public_key
from ssmlab.emulator.protocol import AwsError
from ssmlab.errors import LabError
from ssmlab.lab import Lab
from ssmlab.session import forward, ssh
from ssmlab.steps import breakage

REGION = "eu-west-3"  # no other emulator test builds here
OPENSSH = shutil.which("ssh")


@pytest.fixture(scope="module")
def lab(emulator):
    lab = Lab("sf-ssh", REGION, "emulator")
    results = build(lab, BuildOptions()).results
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    return lab, results["instance"].instance_id


def private_name(lab: Lab, instance_id: str) -> str:
    described = lab.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return f"ip-{described['PrivateIpAddress'].replace('.', '-')}.{REGION}.compute.internal"


# -- over the emulator ---------------------------------------------------------------------------------------


def test_a_command_over_ssh_runs_on_the_simulated_instance_as_the_login_user(lab):
    lab, instance_id = lab
    assert ssh.run(lab, "hostname", instance_id) == ssh.SshResult(private_name(lab, instance_id) + "\n", 0)
    assert ssh.run(lab, "whoami; id -u").output == "ec2-user\n1000\n"
    missing = ssh.run(lab, "traceroute example.com")
    assert missing == ssh.SshResult("bash: line 1: traceroute: command not found\n", 127)
    # trust on first use: the host key is kept, and the same key answers the next time
    kept = paramiko.HostKeys(str(ssh.known_hosts(lab)))
    assert kept.lookup(instance_id)["ssh-ed25519"] is not None
    assert ssh.run(lab, "true").exit_code == 0


@pytest.mark.skipif(OPENSSH is None, reason="OpenSSH's ssh client is not installed")
def test_openssh_logs_in_with_the_written_config_and_runs_a_command_and_a_login_shell(lab):
    lab, instance_id = lab
    config = ssh.write_config(lab, instance_id)
    done = subprocess.run([OPENSSH, "-F", str(config), instance_id, "nslookup", f"ssm.{REGION}.amazonaws.com"],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    endpoint = lab.client("ec2").describe_vpc_endpoints(Filters=[
        {"Name": "service-name", "Values": [f"com.amazonaws.{REGION}.ssm"]}])["VpcEndpoints"][0]
    addresses = [eni["PrivateIpAddress"] for eni in lab.client("ec2").describe_network_interfaces(
        NetworkInterfaceIds=endpoint["NetworkInterfaceIds"])["NetworkInterfaces"]]
    assert any(f"Address: {address}" in done.stdout for address in addresses), done.stdout
    # a login shell on a pty: the user's bash prompt, the echo, `exit` says logout
    shell = subprocess.run([OPENSSH, "-tt", "-F", str(config), instance_id], input="whoami\rexit\r",
                           capture_output=True, text=True, timeout=60)
    short = private_name(lab, instance_id).split(".")[0]
    assert shell.returncode == 0, shell.stderr
    assert f"[ec2-user@{short} ~]$ whoami\nec2-user\n[ec2-user@{short} ~]$ exit\nlogout\n" in shell.stdout  # \r\n read as \n
    # root's login is disabled, whatever key is pushed for it
    root = subprocess.run([OPENSSH, "-F", str(config), "-o", "User=root", instance_id, "true"],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert root.returncode == 255 and "Permission denied (publickey)" in root.stderr


def test_sshd_takes_only_a_key_pushed_for_that_user_in_the_last_60_seconds(lab):
    """Through plain port forwarding to 22 (no ProxyCommand, so nothing pushes the key on its own)."""
    lab, instance_id = lab
    key = paramiko.Ed25519Key(filename=str(ssh.key_file(lab)))

    def login() -> None:
        with forward.forward(lab, instance_id, 22) as forwarding:
            client = paramiko.SSHClient()
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
            try:
                client.connect("127.0.0.1", forwarding.local_port, username="ec2-user", pkey=key,
                               look_for_keys=False, allow_agent=False, timeout=20)
            finally:
                client.close()

    control.advance_clock(lab, KEY_LIFETIME + 1)  # whatever an earlier test pushed has gone
    with pytest.raises(paramiko.AuthenticationException):
        login()
    ssh.push_key(lab, instance_id, "ubuntu")  # a user this Amazon Linux instance does not have
    with pytest.raises(paramiko.AuthenticationException):
        login()
    ssh.push_key(lab, instance_id, "ec2-user")
    login()
    control.advance_clock(lab, KEY_LIFETIME + 1)
    with pytest.raises(paramiko.AuthenticationException):
        login()


def test_the_proxy_ends_its_session_when_its_input_ends(lab):
    lab, instance_id = lab
    out = io.BytesIO()
    assert ssh.forward_stdio(lab, instance_id, 22, stdin=io.BytesIO(b""), stdout=out) == ""  # a clean end
    assert b"SSH-2.0-OpenSSH_8.7\r\n".startswith(out.getvalue())  # sshd's first line, if it came before the end
    [last] = lab.client("ssm").describe_sessions(State="History", Filters=[
        {"key": "Target", "value": instance_id}])["Sessions"][:1]
    assert last["DocumentName"] == "AWS-StartSSHSession" and last["Status"] == "Terminated"


def test_send_ssh_public_key_checks_what_the_service_checks(lab):
    lab, instance_id = lab
    connect = lab.client("ec2-instance-connect")
    good = ssh.public_key(lab)
    answer = connect.send_ssh_public_key(InstanceId=instance_id, InstanceOSUser="ec2-user", SSHPublicKey=good)
    assert answer["Success"] is True and answer["RequestId"]
    cases = [({"InstanceId": "i-0123456789abcdef0"}, "EC2InstanceNotFoundException"),
             ({"SSHPublicKey": "ssh-ed25519 bm90IGEga2V5" + "A" * 80}, "InvalidArgsException"),
             ({"InstanceOSUser": "no such user"}, "InvalidArgsException")]
    for change, code in cases:
        with pytest.raises(ClientError) as refused:
            connect.send_ssh_public_key(**{"InstanceId": instance_id, "InstanceOSUser": "ec2-user",
                                           "SSHPublicKey": good, **change})
        assert refused.value.response["Error"]["Code"] == code, change


def test_ssh_proxy_refuses_a_bad_user_name_in_one_line(lab, emulator):
    lab, instance_id = lab
    refused = emulator.cli("ssh-proxy", "--lab", lab.name, "--region", REGION, "--instance-id", instance_id,
                           "--os-user", "bad user")
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "'bad user'" in refused.stderr and "ec2-user" in refused.stderr
    config = emulator.cli("ssh-config", "--lab", lab.name, "--region", REGION)
    assert config.returncode == 0 and f"Host {instance_id}\n    User ec2-user\n" in config.stdout


def test_without_ssmmessages_ssh_fails_with_the_reason(lab):
    """Last in the module: it breaks the lab."""
    lab, instance_id = lab
    breakage.delete_endpoint(lab, "ssmmessages")
    with pytest.raises(LabError, match="is not connected"):
        ssh.run(lab, "hostname", instance_id)


# -- without the emulator --------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.time = 1_000.0

    def now(self) -> float:
        return self.time


def test_a_pushed_key_lasts_60_seconds_for_its_user_and_instance_only():
    clock, keys = Clock(), PushedKeys(Clock())
    keys.clock = clock
    keys.push("i-0aaaaaaaaaaaaaaaa", "ec2-user", "ssh-ed25519", b"blob")
    assert keys.authorizes("i-0aaaaaaaaaaaaaaaa", "ec2-user", "ssh-ed25519", b"blob")
    assert not keys.authorizes("i-0bbbbbbbbbbbbbbbb", "ec2-user", "ssh-ed25519", b"blob")
    assert not keys.authorizes("i-0aaaaaaaaaaaaaaaa", "ubuntu", "ssh-ed25519", b"blob")
    assert not keys.authorizes("i-0aaaaaaaaaaaaaaaa", "ec2-user", "ssh-ed25519", b"other")
    clock.time += KEY_LIFETIME - 1
    assert keys.authorizes("i-0aaaaaaaaaaaaaaaa", "ec2-user", "ssh-ed25519", b"blob")
    clock.time += 1
    assert not keys.authorizes("i-0aaaaaaaaaaaaaaaa", "ec2-user", "ssh-ed25519", b"blob")


def _rsa_line(bits: int) -> str:
    def field(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data
    modulus = (1 << (bits - 1)) | 1
    blob = field(b"ssh-rsa") + field(b"\x01\x00\x01") + field(b"\x00" + modulus.to_bytes(bits // 8, "big"))
    return "ssh-rsa " + base64.b64encode(blob).decode()


def test_public_keys_are_read_as_sshd_reads_them():
    key_type, blob = parse_public_key(_rsa_line(2048) + " someone@laptop")
    assert key_type == "ssh-rsa" and blob.startswith(b"\x00\x00\x00\x07ssh-rsa")
    for bad in (_rsa_line(1024), "ssh-dss AAAAB3NzaC1kc3MAAACBAP", "ssh-ed25519 !!notbase64!!",
                "ssh-ed25519 " + base64.b64encode(b"\x00\x00\x00\x07ssh-rsa").decode(), "hello"):
        with pytest.raises(AwsError) as refused:
            parse_public_key(bad)
        assert refused.value.code == "InvalidArgsException", bad
