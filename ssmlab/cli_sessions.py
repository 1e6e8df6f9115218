"""The session commands — `ssmlab connect`, `ssmlab forward`, `ssmlab ssh-config` and `ssmlab ssh-proxy`: parse,
call `ssmlab.session`, print.

Kept beside `cli.py` (which holds the other commands and `main`) so that each file stays small; no logic here.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

INSTANCE_ID_RE = r"i-[0-9a-f]{8}([0-9a-f]{9})?"


def add_commands(commands: Any, lab_arguments: Callable[[argparse.ArgumentParser], None]) -> None:
    def command(name: str, what: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=what)
        lab_arguments(parser)
        parser.set_defaults(func=func)
        return parser

    connect = command("connect", "an interactive shell on the lab's instance over Session Manager", cmd_connect)
    connect.add_argument("--instance-id", help="default: the lab's instance")

    forward = command("forward", "forward a local port to a port on the lab's instance over Session Manager "
                                 "(AWS-StartPortForwardingSession)", cmd_forward)
    forward.add_argument("--port", required=True, type=_checked("port"), help="the port on the instance (1-65535)")
    forward.add_argument("--local-port", type=_checked("local port"), default=0,
                         help="the port to listen on at 127.0.0.1 (default 0: a free one)")
    forward.add_argument("--instance-id", help="default: the lab's instance")
    forward.add_argument("--host", help="a host in the instance's VPC to reach through it "
                                        "(AWS-StartPortForwardingSessionToRemoteHost)")

    config = command("ssh-config", "the ssh configuration that reaches the lab's instance over Session Manager "
                                   "(AWS-StartSSHSession), written to a file for ssh -F", cmd_ssh_config)
    config.add_argument("--instance-id", help="default: the lab's instance")

    proxy = command("ssh-proxy", "ssh's ProxyCommand: push the lab's key with EC2 Instance Connect, then carry "
                                 "ssh's stdin/stdout over AWS-StartSSHSession", cmd_ssh_proxy)
    proxy.add_argument("--instance-id", required=True, help="the instance (ssh's %%h)")
    proxy.add_argument("--port", type=_checked("port"), default=22, help="the port on the instance (ssh's %%p; default 22)")
    proxy.add_argument("--os-user", required=True, type=_checked("OS user"),
                       help="the login user whose key is pushed (ssh's %%r)")


def _checked(what: str) -> Callable[[str], Any]:
    """An argparse type from the library's own check, whose BadInput line becomes argparse's (exit 2)."""
    def check(text: str) -> Any:
        from ssmlab.errors import BadInput
        from ssmlab.session.portsession import check_port
        from ssmlab.session.ssh import check_os_user

        try:
            if what == "OS user":
                return check_os_user(text)
            return check_port(text, what, allow_zero=what == "local port")
        except BadInput as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    check.__name__ = what  # argparse names the type in its messages
    return check


def _instance(args: argparse.Namespace) -> tuple[Any, str]:
    """The lab and the instance the session goes to (--instance-id checked first)."""
    import re

    from ssmlab.cli import _lab
    from ssmlab.errors import BadInput
    from ssmlab.session import client

    if args.instance_id and not re.fullmatch(INSTANCE_ID_RE, args.instance_id):
        raise BadInput(f"invalid instance id {args.instance_id!r}: expected i- followed by 8 or 17 hex digits")
    lab = _lab(args)
    return lab, client.lab_instance(lab, args.instance_id)


def cmd_connect(args: argparse.Namespace) -> int:
    from ssmlab.session import client, terminal

    with client.open_shell(*_instance(args)) as shell:
        return terminal.interact(shell)


def cmd_forward(args: argparse.Namespace) -> int:
    from ssmlab.session.forward import forward
    from ssmlab.session.terminal import exiting

    lab, instance_id = _instance(args)
    with forward(lab, instance_id, args.port, args.local_port, args.host) as forwarding:
        through = f"{args.host}:{args.port} through {instance_id}" if args.host else f"{instance_id}:{args.port}"
        print(f"Starting session with SessionId: {forwarding.session_id}")
        print(f"Forwarding 127.0.0.1:{forwarding.local_port} -> {through} (Ctrl-C to stop)", flush=True)
        try:
            while forwarding.wait(0.5) is None:
                pass
        except KeyboardInterrupt:
            forwarding.close()
            print(exiting(forwarding.session_id, ""), end="", flush=True)
            return 0
        output = forwarding.closed.output
    print(exiting(forwarding.session_id, output), end="", flush=True)
    return 1 if output else 0


def cmd_ssh_config(args: argparse.Namespace) -> int:
    from ssmlab.session import ssh

    lab, instance_id = _instance(args)
    path = ssh.write_config(lab, instance_id)
    print(path.read_text(), end="")
    print(f"\n# written to {path}: ssh -F {path} {instance_id}   (or add the block to ~/.ssh/config)")
    return 0


def cmd_ssh_proxy(args: argparse.Namespace) -> int:
    """No output of its own on stdout: that is ssh's protocol stream."""
    import signal
    import sys

    from ssmlab.session import ssh

    lab, instance_id = _instance(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # ssh (or paramiko) ends the proxy so
    ssh.push_key(lab, instance_id, args.os_user)
    reason = ssh.forward_stdio(lab, instance_id, args.port)
    if reason:
        print(f"ssmlab: session ended: {reason}", file=sys.stderr)
    return 1 if reason else 0
