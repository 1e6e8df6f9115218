"""SSH over Session Manager (AWS-StartSSHSession), on the emulator or on AWS: a key, EC2 Instance Connect to put
it on the instance for 60 seconds, ssh's ProxyCommand, and the stdin/stdout forwarding behind it.

    print(ssh.config(lab, instance_id))          # the ~/.ssh/config block (`ssmlab ssh-config`)
    ssh.run(lab, "hostname")                     # -> SshResult(output, exit_code), through that ProxyCommand

How SSH reaches a private instance this way (User Guide, "Allow and control permissions for SSH connections
through Session Manager"): ssh runs the ProxyCommand instead of opening a TCP connection, and talks SSH over
its standard input and output; the ProxyCommand starts a session with the document AWS-StartSSHSession
(portNumber 22), whose agent dials localhost:22 on the instance. The Session Manager plugin serves such a session
on its standard streams (aws/session-manager-plugin `src/sessionmanagerplugin/session/portsession/
standardstreamforwarding.go`: stdin read in pieces of at most 1024 bytes, sent as Output; Output written to
stdout; the plugin exits when the channel closes). `ssmlab ssh-proxy` does the same with this package's client
(`forward_stdio`), after pushing the lab's key with EC2 Instance Connect's SendSSHPublicKey, which lets sshd
accept it for that OS user for 60 seconds (API Reference) — so no key pair is baked into the instance and no
inbound rule is needed. ssh itself still checks the host key and authenticates end to end: Session Manager
only carries the bytes, which is also why it cannot log an SSH session's contents (User Guide, "Logging session
activity").

Differences from the plugin, named: at the end of standard input the plugin simply exits; `forward_stdio` sends
TerminateSession first, so the session ends at once instead of when the agent notices.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ssmlab.errors import LabError
from ssmlab.session import client, forward
from ssmlab.session import portsession as port
from ssmlab.session import protocol as wire

_QUIET = logging.NullHandler()
# InstanceOSUser's pattern in the EC2 Instance Connect API's model (botocore `ec2-instance-connect` 2018-04-02)
OS_USER = re.compile(r"(^[A-Za-z_][A-Za-z0-9@._-]{0,30}[A-Za-z0-9$_-]?$)|"
                     r"(^(?=.{2,32}$)[0-9]{1,32}[A-Za-z@._-][A-Za-z0-9@._-]*[A-Za-z0-9$_-]?$)")
AWS_PROXY_COMMAND = ('sh -c "aws ssm start-session --target %h --document-name AWS-StartSSHSession '
                     "--parameters 'portNumber=%p'\"")  # the User Guide's line, for the Session Manager plugin


@dataclass(frozen=True)
class SshResult:
    """What `ssh host COMMAND` gives back: the command's output and its exit status."""

    output: str
    exit_code: int


# -- the key ---------------------------------------------------------------------------------------------------


def key_file(lab: Any) -> Path:
    """The lab's private key (OpenSSH format), made on first use: an Ed25519 key, readable by its owner only,
    with the public half beside it (.pub)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ssmlab import settings

    folder = settings.current().state_dir / "ssh"
    path = folder / f"{lab.name}-{lab.region}-{lab.target}_ed25519"
    if path.exists() and path.with_suffix(".pub").exists():
        return path
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    partial = path.with_name(path.name + f".{os.getpid()}.tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(private)
    path.with_suffix(".pub").write_bytes(public + f" ssmlab-{lab.name}\n".encode())
    os.replace(partial, path)  # a concurrent first use keeps one whole key
    return path


def public_key(lab: Any) -> str:
    return key_file(lab).with_suffix(".pub").read_text().strip()


def login_user(lab: Any, instance_id: str) -> str:
    """The user ssh logs in as: cloud-init's default user of the instance's AMI (ec2-user, or ubuntu)."""
    from ssmlab import inventory
    from ssmlab.instance import host

    state = inventory.snapshot(lab, instance_id=instance_id)
    instance = state.instance(instance_id)
    return host.login_user(host.os_of(state, instance)) if instance else host.LOGIN_USERS["al2023"]


def valid_os_user(value: str) -> bool:
    """InstanceOSUser as the API's model takes it: its pattern, at most 32 characters."""
    return len(value) <= 32 and OS_USER.match(value) is not None


def check_os_user(value: str) -> str:
    """A login user name as SendSSHPublicKey takes it; BadInput otherwise."""
    from ssmlab.errors import BadInput

    if not valid_os_user(value):
        raise BadInput(f"invalid OS user {value!r}: expected a user name such as ec2-user or ubuntu (a letter or _, "
                       "then letters, digits, @ . _ -; at most 32 characters)")
    return value


def push_key(lab: Any, instance_id: str, os_user: str) -> None:
    """SendSSHPublicKey: sshd on the instance accepts the lab's key for `os_user` during the next 60 seconds."""
    from botocore.exceptions import ClientError

    try:
        lab.client("ec2-instance-connect").send_ssh_public_key(
            InstanceId=instance_id, InstanceOSUser=os_user, SSHPublicKey=public_key(lab))
    except ClientError as error:
        found = error.response.get("Error", {})
        raise LabError(f"EC2 Instance Connect did not take the key for {os_user}@{instance_id}: "
                       f"{found.get('Code')}: {found.get('Message')}") from None


# -- ssh's configuration -------------------------------------------------------------------------------------------


def proxy_command(lab: Any) -> str:
    """The ProxyCommand that pushes the key and forwards ssh's streams over AWS-StartSSHSession (%h: the
    instance id, %p: the port, %r: the login user, as ssh substitutes them)."""
    program = shutil.which("ssmlab")
    head = shlex.quote(program) if program else f"{shlex.quote(sys.executable)} -m ssmlab"
    return (f"{head} ssh-proxy --lab {lab.name} --region {lab.region} --target {lab.target} "
            "--instance-id %h --port %p --os-user %r")


def known_hosts(lab: Any) -> Path:
    return key_file(lab).parent / "known_hosts"


def config(lab: Any, instance_id: str, user: str | None = None) -> str:
    """The ~/.ssh/config block for the lab's instance (`ssh -F FILE i-…` with `write_config`'s file)."""
    user = user or login_user(lab, instance_id)
    return "\n".join([
        f"# ssmlab lab {lab.name} ({lab.target}, {lab.region}): SSH over Session Manager, no inbound rule",
        f"Host {instance_id}",
        f"    User {user}",
        f"    IdentityFile {key_file(lab)}",
        "    IdentitiesOnly yes",
        f"    UserKnownHostsFile {known_hosts(lab)}",
        "    StrictHostKeyChecking accept-new",
        f"    ProxyCommand {proxy_command(lab)}",
        ""])


def write_config(lab: Any, instance_id: str, user: str | None = None) -> Path:
    """The block in a file of its own (for `ssh -F`), rewritten each time."""
    path = key_file(lab).parent / f"{lab.name}-{lab.region}-{lab.target}.config"
    path.write_text(config(lab, instance_id, user))
    return path


# -- the ProxyCommand's work: standard streams over AWS-StartSSHSession -------------------------------------------


def forward_stdio(lab: Any, instance_id: str, port_number: int = 22, stdin: BinaryIO | None = None,
                  stdout: BinaryIO | None = None, timeout: float = 10.0) -> str:
    """StandardStreamForwarding: `stdin`'s bytes to the instance's port, its bytes to `stdout`, until the session
    ends; returns channel_closed's reason (empty for a clean end)."""
    from ssmlab import managed

    source = stdin if stdin is not None else sys.stdin.buffer
    sink = stdout if stdout is not None else sys.stdout.buffer
    session = managed.start_session(lab, instance_id, document=port.SSH,
                                    parameters={"portNumber": [str(port.check_port(port_number))]})
    ws = client.open_channel(session.stream_url, session.token, timeout, port.BASIC_CLIENT_VERSION)
    channel = forward.PortChannel(ws, session.session_id)
    try:
        for data in forward.await_handshake(channel, session.session_id, timeout):
            _write(sink, data)
        threading.Thread(target=_pump_input, args=(channel, source), name="ssmlab-ssh-stdin", daemon=True).start()
        while True:
            for message in channel.receive(1.0):
                if message.payload_type == wire.OUTPUT:
                    _write(sink, message.payload)
    except client.ChannelClosed as closed:
        return closed.output
    finally:
        ws.close()


def _write(sink: BinaryIO, data: bytes) -> None:
    sink.write(data)
    sink.flush()


def _pump_input(channel: forward.PortChannel, source: BinaryIO) -> None:
    """Standard input to the agent, 1024 bytes at most per message; at its end, TerminateSession."""
    read = getattr(source, "read1", source.read)
    try:
        while True:
            data = read(port.PAYLOAD_SIZE)
            if not data:
                break
            channel.send_data(data)
        channel.send_flag(wire.TERMINATE_SESSION)
    except Exception:
        pass  # the channel closed first: the main loop has ended or is ending


# -- ssh, from Python ---------------------------------------------------------------------------------------------


def run(lab: Any, command: str, instance_id: str | None = None, user: str | None = None,
        timeout: float = 30.0) -> SshResult:
    """`ssh <instance> COMMAND` through the ProxyCommand of `config`, with paramiko as the SSH client: the same
    key exchange, host key check (trust on first use, kept in the lab's known_hosts) and public-key login as
    OpenSSH's."""
    import paramiko

    # paramiko's transport thread logs a failed connection with its traceback; the LabError below says it once
    logging.getLogger("paramiko").addHandler(_QUIET)
    instance_id = client.lab_instance(lab, instance_id)
    user = user or login_user(lab, instance_id)
    line = proxy_command(lab).replace("%h", instance_id).replace("%p", "22").replace("%r", user)
    ssh = paramiko.SSHClient()
    hosts = known_hosts(lab)
    if hosts.exists():
        ssh.load_host_keys(str(hosts))
    ssh.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    proxy = _proxy(line)
    try:
        ssh.connect(instance_id, 22, username=user, key_filename=str(key_file(lab)), sock=proxy,
                    look_for_keys=False, allow_agent=False, timeout=timeout, banner_timeout=timeout,
                    auth_timeout=timeout)
        ssh.save_host_keys(str(hosts))
        _, out, _ = ssh.exec_command(command, timeout=timeout)
        output = out.read().decode("utf-8", "replace")
        return SshResult(output, out.channel.recv_exit_status())
    except paramiko.AuthenticationException:
        raise LabError(f"ssh {user}@{instance_id}: Permission denied (publickey): sshd did not accept the lab's key "
                       "(EC2 Instance Connect keeps a pushed key for 60 seconds; the ProxyCommand pushes it)") from None
    except (paramiko.SSHException, OSError, EOFError) as error:
        said = _proxy_said(proxy)
        raise LabError(f"ssh {user}@{instance_id}: " + (said or str(error) or type(error).__name__)) from None
    finally:
        ssh.close()


def _proxy(line: str) -> Any:
    """paramiko's ProxyCommand, except that a proxy that has ended reads as a closed connection at once (paramiko's
    own `recv` keeps reading an empty pipe until its timeout)."""
    import select

    import paramiko

    class Proxy(paramiko.ProxyCommand):
        def recv(self, size: int) -> bytes:
            ready, _, _ = select.select([self.process.stdout], [], [], self.timeout)
            if not ready:
                raise TimeoutError("the ProxyCommand sent nothing in time")
            return os.read(self.process.stdout.fileno(), size)  # b"": the proxy ended (paramiko: EOFError)

    return Proxy(line)


def _proxy_said(proxy: Any) -> str:
    """What a ProxyCommand that has exited wrote on its standard error (why the session did not open)."""
    try:
        proxy.process.wait(timeout=2)
    except Exception:
        return ""
    said = proxy.process.stderr.read().decode("utf-8", "replace").strip()
    return said.removeprefix("ssmlab: ")
