"""Port forwarding to a remote host in the VPC, over real sockets: `steps.private_host` adds a database host,
`forward(lab, iid, 5432, host=ip)` goes through the instance (AWS-StartPortForwardingSessionToRemoteHost), the
agent's dial is judged by `hostpath` and answered by `instance.services.PostgresServer`; `ssmlab cleanup` then
removes the host and its security group with the rest of the lab."""

from __future__ import annotations

import signal
import socket
import struct
import subprocess

import pytest

from ssmlab import inventory, teardown
from ssmlab.build import BuildOptions, build
from ssmlab.emulator import control
from ssmlab.emulator.agent import AGENT_START_DELAY
from ssmlab.lab import Lab
from ssmlab.session import portsession as port
from ssmlab.session import probe
from ssmlab.session.forward import forward
from tests.conftest import SSMLAB
from ssmlab.steps import private_host

pytestmark = pytest.mark.emulator
REGION = "eu-south-1"  # no other emulator test builds here


def startup(user: str) -> bytes:
    body = struct.pack("!I", 196608) + f"user\0{user}\0database\0app\0\0".encode()  # protocol 3.0
    return struct.pack("!I", len(body) + 4) + body


def test_forward_to_the_database_host_needs_egress_5432_then_postgres_answers_and_cleanup_removes_it(emulator):
    lab = Lab("rh-remote", REGION, "emulator")
    results = build(lab, BuildOptions()).results
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    instance_id, instance_sg = results["instance"].instance_id, results["security-groups"].instance_sg_id
    host = private_host.ensure(lab)
    assert host.created and private_host.ensure(lab) == private_host.PrivateHost(  # idempotent: found, not created
        host.instance_id, host.private_ip, host.group_id, 5432)
    ec2 = lab.client("ec2")
    [group] = ec2.describe_security_groups(GroupIds=[host.group_id])["SecurityGroups"]
    assert group["GroupName"] == "rh-remote-database" and group["IpPermissionsEgress"] == []
    assert [p["UserIdGroupPairs"][0]["GroupId"] for p in group["IpPermissions"]] == [instance_sg]

    # The kit's instance SG allows only 443 out: the SYN to 5432 is dropped, the agent's dial times out.
    with forward(lab, instance_id, 5432, host=host.private_ip) as forwarding:
        # A client connected while the agent's dial is judged reads the end as soon as the session ends: the
        # local connection is shut down, not left open with the relay in recv() (which sent no FIN on Linux).
        try:
            with socket.create_connection(("127.0.0.1", forwarding.local_port), timeout=5) as client:
                client.sendall(startup("postgres"))
                assert client.recv(1) == b""
        except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError):
            pass  # the session had ended already (the listener closes with it), or ended as the client spoke
        closed = forwarding.wait(5)
    words = port.dial_timeout(5432, host.private_ip)
    assert closed is not None and closed.output == words
    [ended] = lab.client("ssm").describe_sessions(State="History", Filters=[
        {"key": "SessionId", "value": forwarding.session_id}])["Sessions"]
    assert ended["Details"].startswith(words + " (ssmlab: no outbound rule of " + instance_sg)
    assert ended["DocumentName"] == port.TO_REMOTE_HOST

    # The lesson: allow 5432 out to the VPC; now PostgreSQL answers, by IP and by its private DNS name.
    ec2.authorize_security_group_egress(GroupId=instance_sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": results["network"].cidr}]}])
    # the same lesson as notebook 08 writes it: a rule to the database's group, added once
    assert private_host.allow_instance_egress(lab, host) is True and private_host.allow_instance_egress(lab, host) is False
    name = f"ip-{host.private_ip.replace('.', '-')}.{REGION}.compute.internal"
    for target in (host.private_ip, name):
        with forward(lab, instance_id, 5432, host=target) as forwarding:
            with socket.create_connection(("127.0.0.1", forwarding.local_port), timeout=5) as conn:
                conn.sendall(startup("alice"))
                assert conn.recv(100)[:1] == b"R"  # AuthenticationMD5Password
                conn.sendall(b"p" + struct.pack("!I", 40) + b"md5" + b"0" * 32 + b"\0")
                reply = conn.recv(300)
                while len(reply) < 5 or len(reply) < 1 + struct.unpack("!I", reply[1:5])[0]:
                    reply += conn.recv(300)  # the agent keeps the local connection (basic forwarding redials)
            assert reply[:1] == b"E" and b'password authentication failed for user "alice"' in reply

    # The command a learner types, as a process: `ssmlab forward --host`, then a PostgreSQL client's first exchange.
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        local = spare.getsockname()[1]
    process = subprocess.Popen([SSMLAB, "forward", "--lab", lab.name, "--region", REGION, "--host", host.private_ip,
                                "--port", "5432", "--local-port", str(local)],
                               env=emulator.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        said = process.stdout.readline() + process.stdout.readline()
        assert f"Forwarding 127.0.0.1:{local} -> {host.private_ip}:5432 through {instance_id}" in said, said
        assert probe.postgres(local, user="alice") == ('TLS not offered (N); asks for an MD5 password; '
                                                       'FATAL 28P01: password authentication failed for user "alice"')
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err

    run = emulator.cli("cleanup", "--lab", lab.name, "--region", REGION)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "FAILED" not in run.stdout and teardown.audit(lab) == [] and inventory.lab_resources(lab).empty
    gone = ec2.describe_instances(InstanceIds=[host.instance_id])["Reservations"][0]["Instances"][0]
    assert gone["State"]["Name"] in ("shutting-down", "terminated")
    assert not ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [host.group_id]}])["SecurityGroups"]
