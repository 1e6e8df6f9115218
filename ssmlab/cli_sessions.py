"""`ssmlab connect` and `ssmlab forward`, the two session commands: parse, call `ssmlab.session`, print.

Kept beside `cli.py` (which holds the other commands and `main`) so that each file stays small; no logic here.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

INSTANCE_ID_RE = r"i-[0-9a-f]{8}([0-9a-f]{9})?"


def add_commands(commands: Any, lab_arguments: Callable[[argparse.ArgumentParser], None]) -> None:
    connect = commands.add_parser("connect", help="an interactive shell on the lab's instance over Session Manager")
    lab_arguments(connect)
    connect.add_argument("--instance-id", help="default: the lab's instance")
    connect.set_defaults(func=cmd_connect)

    forward = commands.add_parser("forward", help="forward a local port to a port on the lab's instance over "
                                                  "Session Manager (AWS-StartPortForwardingSession)")
    lab_arguments(forward)
    forward.add_argument("--port", required=True, type=_port, help="the port on the instance (1-65535)")
    forward.add_argument("--local-port", type=_local_port, default=0,
                         help="the port to listen on at 127.0.0.1 (default 0: a free one)")
    forward.add_argument("--instance-id", help="default: the lab's instance")
    forward.add_argument("--host", help="a host in the instance's VPC to reach through it "
                                        "(AWS-StartPortForwardingSessionToRemoteHost)")
    forward.set_defaults(func=cmd_forward)


def _port(text: str) -> int:
    from ssmlab.errors import BadInput
    from ssmlab.session.portsession import check_port

    try:
        return check_port(text)
    except BadInput as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _local_port(text: str) -> int:
    from ssmlab.errors import BadInput
    from ssmlab.session.portsession import check_port

    try:
        return check_port(text, "local port", allow_zero=True)
    except BadInput as error:
        raise argparse.ArgumentTypeError(str(error)) from None


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
