"""The simulated instance's sshd on port 22: a real SSH-2 server (paramiko's), so that `ssh` over an
AWS-StartSSHSession — OpenSSH with a ProxyCommand, or any SSH client — logs in and runs commands on the
simulated instance. Nothing runs on the host: what a command prints comes from `ssmlab.instance`.

What it does as the instance's OpenSSH does: it sends the distribution's identification line
(`instance.services.SSH_IDENT`) and completes the key exchange (RFC 4253) with a host key of its own; it takes
public-key authentication only (Amazon Linux 2023 and Ubuntu ship `PasswordAuthentication no` for cloud images)
and accepts a key pushed with EC2 Instance Connect's SendSSHPublicKey for that OS user within the last 60
seconds (`instance_connect`); a login user that does not exist on the instance, or any other key, is refused
with "publickey" as the method left (the client says "Permission denied (publickey)"). A session channel runs
one command (`ssh host CMD`: bash -c as the user, its output and exit status) or a login shell with a pty (the
user's bash prompt, the pty's echo and line editing as `shell_channel.LineDiscipline` does them).

The simulation's choices, all of them: the instance has no key pair from launch (the kit launches none), so
only pushed keys open it; the host key is an Ed25519 key derived from the instance id, so it stays the same for
the instance across emulator restarts, as a real instance's key stays across reboots (a real one is random);
a command's standard error comes back on the channel's standard output; sftp, port forwarding (-L/-R/-D),
agent and X11 forwarding and environment variables are refused.
"""

from __future__ import annotations

import hashlib
import io
import logging
import socket
import threading
from typing import Any, Callable

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = logging.getLogger("ssmlab.emulator.sshd")
REQUEST_TIMEOUT = 30.0  # seconds the server waits for the client's channel and its request (LoginGraceTime-like)
READ_SIZE = 32 * 1024


def host_key(instance_id: str) -> Any:
    """The instance's Ed25519 host key, derived from its id (the simulation's choice: stable, not secret)."""
    seed = hashlib.sha256(f"ssmlab simulated ssh host key {instance_id}".encode()).digest()
    pem = Ed25519PrivateKey.from_private_bytes(seed).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
    return paramiko.Ed25519Key(file_obj=io.StringIO(pem.decode()))


class SshServer:
    """One TCP connection to port 22, as a port session's agent holds it: `receive` takes the client's bytes;
    what the server sends goes to `push` from the server's own threads, and `closed` is called once when the
    server has closed the connection (`port_channel.PortChannel` starts it with `start`)."""

    def __init__(self, instance_id: str, ident: bytes, authorized: Callable[[str, Any], bool],
                 shell_for: Callable[[str, str], Any], users: tuple[str, ...]) -> None:
        self.instance_id = instance_id
        self.ident = ident.decode().strip()
        self.authorized = authorized  # (os user, paramiko public key) -> bool
        self.shell_for = shell_for  # (os user, "login" | "command") -> a SimulatedInstance
        self.users = users  # who may log in: cloud-init's default user (`instance.host.login_user`); root's
        # login is disabled by cloud-init (disable_root)
        self._outer: socket.socket | None = None
        self._transport: Any = None
        self._stopped = threading.Event()

    def opening(self) -> bytes:
        return b""  # sent by the server's thread as soon as it starts

    def start(self, push: Callable[[bytes], None], closed: Callable[[], None]) -> None:
        self._outer, inner = socket.socketpair()
        transport = paramiko.Transport(inner)
        transport.local_version = self.ident
        transport.add_server_key(host_key(self.instance_id))
        self._transport = transport
        server = _Server(self)
        transport.start_server(event=threading.Event(), server=server)  # returns at once; negotiates in its thread
        threading.Thread(target=self._relay, args=(push, closed), name="sshd-relay", daemon=True).start()
        threading.Thread(target=self._session, args=(transport, server), name="sshd-session", daemon=True).start()

    def receive(self, data: bytes) -> tuple[bytes, bool]:
        try:
            self._outer.sendall(data)
        except OSError:
            pass  # the server closed; `closed` has been or is being called
        return b"", False

    def stop(self) -> None:
        """The agent closed the connection (DisconnectToPort, or the session ended)."""
        self._stopped.set()
        if self._transport is not None:
            self._transport.close()
        if self._outer is not None:
            self._outer.close()

    def _relay(self, push: Callable[[bytes], None], closed: Callable[[], None]) -> None:
        """What the server writes, to the agent's side of the connection, until the server closes it."""
        while True:
            try:
                data = self._outer.recv(READ_SIZE)
            except OSError:
                data = b""
            if not data:
                break
            push(data)
        if not self._stopped.is_set():
            closed()

    def _session(self, transport: Any, server: _Server) -> None:
        """One session channel: a command or a login shell; then the connection closes, as sshd's does when
        its last channel ends."""
        try:
            channel = transport.accept(REQUEST_TIMEOUT)
            if channel is None or not server.requested.wait(REQUEST_TIMEOUT):
                return
            kind, command = server.request
            if kind == "exec":
                self._command(channel, server.user, command)
            else:
                self._login(channel, server.user)
        except Exception:  # the client went away mid-session
            log.debug("ssh session on %s ended early", self.instance_id, exc_info=True)
        finally:
            transport.close()

    def _command(self, channel: Any, user: str, command: str) -> None:
        answer = self.shell_for(user, "command").run(command)
        if answer.output:
            channel.sendall(answer.output.encode())
        channel.send_exit_status(answer.exit_code)
        channel.close()

    def _login(self, channel: Any, user: str) -> None:
        from ssmlab.emulator.shell_channel import LineDiscipline, terminal_text

        shell = self.shell_for(user, "login")
        discipline = LineDiscipline()
        channel.sendall(shell.prompt.encode())
        status = 0
        while True:
            data = channel.recv(READ_SIZE)
            if not data:
                break
            for event, text in discipline.feed(data):
                if event == "echo":
                    channel.sendall(text.encode())
                elif event == "line":
                    answer = shell.run(text)
                    status = answer.exit_code
                    if answer.output:
                        channel.sendall(terminal_text(answer.output).encode())
                    if answer.closes:  # `exit`: a login shell says "logout" as it leaves
                        channel.sendall(b"logout\r\n")
                        return self._logout(channel, status)
                    channel.sendall(shell.prompt.encode())
                elif event == "interrupt":
                    channel.sendall(shell.prompt.encode())
                else:  # Ctrl-D on an empty line: bash says "logout" as a login shell leaves
                    channel.sendall(b"logout\r\n")
                    return self._logout(channel, status)
        self._logout(channel, status)

    @staticmethod
    def _logout(channel: Any, status: int) -> None:
        channel.send_exit_status(status)
        channel.close()


class _Server(paramiko.ServerInterface):
    """paramiko's ServerInterface for one connection: who may log in, and which channel requests are served."""

    def __init__(self, sshd: SshServer) -> None:
        self.sshd = sshd
        self.user = ""
        self.request: tuple[str, str] = ("", "")
        self.requested = threading.Event()

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: Any) -> int:
        if username in self.sshd.users and self.sshd.authorized(username, key):
            self.user = username
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_pty_request(self, *args: Any) -> bool:
        return True

    def check_channel_window_change_request(self, *args: Any) -> bool:
        return True

    def check_channel_shell_request(self, channel: Any) -> bool:
        return self._serve("shell", "")

    def check_channel_exec_request(self, channel: Any, command: bytes) -> bool:
        return self._serve("exec", command.decode("utf-8", "replace"))

    def _serve(self, kind: str, command: str) -> bool:
        if self.requested.is_set():
            return False  # one command or shell per channel
        self.request = (kind, command)
        self.requested.set()
        return True
