"""Who answers a session's shell lines: the simulated instance, or a responder a test put on one instance.

The data channel (`datachannel`, `shell_channel`) carries keystrokes and output; what a command prints comes
from a responder — an object with `.prompt` and `.run(line) -> Answer(output, exit_code, closes)`. The
emulator's is `ssmlab.instance.SimulatedInstance`, built from the same model the doctor reads. Nothing runs
on the host.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from ssmlab.instance import Answer, SimulatedInstance


class Echo:
    """Answers each line with the line itself: the test-only responder (`PUT /ssmlab/responders`)."""

    prompt = "echo$ "

    def run(self, line: str) -> Answer:
        if line.strip() == "exit":
            return Answer("", 0, closes=True)
        return Answer(line, 0 if line.strip() != "false" else 1)


TEST_RESPONDERS: dict[str, Callable[[], Any]] = {"echo": Echo}


class Responders:
    """Makes each session's responder: the simulated instance, unless a test put its own on the instance."""

    def __init__(self, fleet: Any, pushed_keys: Any) -> None:
        self.fleet = fleet
        self.pushed_keys = pushed_keys  # instance_connect.PushedKeys: what the simulated sshd accepts
        self._overrides: dict[str, str] = {}
        self._lock = threading.Lock()

    def override(self, instance_id: str, kind: str | None) -> None:
        """A test-only hook: sessions on `instance_id` answer with TEST_RESPONDERS[kind] (None: the default)."""
        if kind is not None and kind not in TEST_RESPONDERS:
            raise ValueError(f"unknown responder {kind!r}: expected one of {sorted(TEST_RESPONDERS)}")
        with self._lock:
            if kind is None:
                self._overrides.pop(instance_id, None)
            else:
                self._overrides[instance_id] = kind

    def port_target(self, session: Any) -> Any:
        """What a port session's agent dials: the simulated instance's services (`instance.services`)."""
        from ssmlab.emulator.port_channel import PortTarget
        from ssmlab.instance import services
        from ssmlab.session import portsession

        fleet, instance_id = self.fleet, session.target
        agent = fleet.agents.get(instance_id)

        def dial(port: int, host: str | None) -> Any:
            if host is not None:
                return remote_dial(fleet.state_for(instance_id), instance_id, port, host)
            if port == services.SSH_PORT:
                return self.sshd(instance_id)
            found = services.dial(fleet.state_for(instance_id), instance_id, port, fleet.clock.now())
            return found if found is not None else portsession.connection_refused(port)

        return PortTarget(getattr(agent, "version", "") or "", dial)

    def sshd(self, instance_id: str) -> Any:
        """A connection to the instance's sshd (`sshd`): it accepts keys pushed with SendSSHPublicKey and answers
        from the simulated instance, as the login user."""
        from ssmlab.emulator import sshd
        from ssmlab.instance import host, services

        state = self.fleet.state_for(instance_id)
        os = host.os_of(state, state.instance(instance_id))

        def authorized(user: str, key: Any) -> bool:
            return self.pushed_keys.authorizes(instance_id, user, key.get_name(), key.asbytes())

        def shell_for(user: str, shell: str) -> Any:
            return simulated_instance(self.fleet, instance_id, user, shell)

        return sshd.SshServer(instance_id, services.SSH_IDENT.get(os.key, services.SSH_IDENT["al2023"]),
                              authorized, shell_for, (host.login_user(os),))

    def __call__(self, session: Any) -> Any:
        with self._lock:
            kind = self._overrides.get(session.target)
        if kind is not None:
            return TEST_RESPONDERS[kind]()
        return simulated_instance(self.fleet, session.target)


def remote_dial(state: Any, instance_id: str, port: int, host: str) -> Any:
    """The agent's dial to host:port (`hostpath`): the host's service, or Unreachable (the agent's words, and
    the session's Details: those words and why, prefixed ssmlab:). A dropped SYN is answered at once, where the
    kernel would give up after its SYN retries (the simulation's choice)."""
    from ssmlab import hostpath
    from ssmlab.emulator.port_channel import Unreachable
    from ssmlab.instance import services
    from ssmlab.session import portsession

    judged = hostpath.path(state, instance_id, host, port)
    failed = judged.first_failure
    if judged.refusal:
        words = judged.refusal if judged.address else f"Unable to connect to specified port: {judged.refusal}"
    elif failed is not None:
        words = portsession.dial_timeout(port, judged.address or host)
    else:
        found = services.dial_host(state, judged.target.instance_id, port)
        if found is not None:
            return found
        return portsession.connection_refused(port, judged.address)
    return Unreachable(words, f"{words} (ssmlab: {failed.detail if failed else judged.refusal})")


def simulated_instance(fleet: Any, instance_id: str, user: str = "ssm-user", shell: str = "sh") -> SimulatedInstance:
    """The instance as its agent sees it now: the lab's state, the agent's log files and version. Sessions run as
    ssm-user; Run Command runs as root (User Guide, "Running commands using Systems Manager Run Command"); SSH
    logs in as cloud-init's default user, in bash (`shell` "login", or "command" for `ssh host CMD`)."""
    agent = fleet.agents.get(instance_id)
    return SimulatedInstance(fleet.state_for(instance_id), instance_id, files=getattr(agent, "files", None),
                             agent_version=getattr(agent, "version", None), user=user, shell=shell)
