"""`ssmlab emulator start|stop|status|serve|env`: parse, call the library, print one line.

Exit codes: 0 done / running; 3 from `status` when the emulator is not running (as
`systemctl status` does), so scripts can test it without parsing. Errors are raised as
ssmlab errors for the main CLI to turn into one stderr line and exit 1 or 2.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex

from ..errors import BadInput
from .faults import add_arguments as add_fault_arguments
from .faults import from_args as fault_config

NOT_RUNNING = 3


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `emulator` command (and its sub-commands) to the main CLI's subparsers."""
    parser = subparsers.add_parser(
        "emulator", help="manage the embedded AWS emulator",
        description="Manage the embedded AWS emulator (moto plus ssmlab's extensions), "
                    "a background process on a free loopback port.")
    sub = parser.add_subparsers(dest="emulator_command", required=True, metavar="COMMAND")

    start = sub.add_parser("start", help="start it in the background (or reuse the running one)")
    start.add_argument("--port", type=int, default=None, help="TCP port (default: a free one)")
    start.add_argument("--time-scale", type=_time_scale, default=None, metavar="N",
                       help="simulated seconds per wall second for the SSM Agents (default $SSMLAB_TIME_SCALE, else 10)")
    add_fault_arguments(start)  # on a running emulator, they replace its fault settings
    start.set_defaults(func=cmd_start, parser=start)

    stop = sub.add_parser("stop", help="stop it (no-op when it is not running)")
    stop.set_defaults(func=cmd_stop)

    status = sub.add_parser("status", help="is it running? exit 0 if so, 3 if not")
    status.add_argument("--json", action="store_true", help="print {running, endpoint_url, pid, log_path}")
    status.set_defaults(func=cmd_status)

    serve = sub.add_parser("serve", help="run it in the foreground until Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    serve.add_argument("--time-scale", type=_time_scale, default=None, metavar="N",
                       help="simulated seconds per wall second (default $SSMLAB_TIME_SCALE, else 10)")
    serve.add_argument("--class", dest="roster", metavar="FILE",
                       help="run a class: a roster (ssmlab class roster); each participant signs with keys of their "
                            "own and may act only on their own lab (default $SSMLAB_CLASS_SECRET, else no class)")
    serve.add_argument("--data-channel-port", type=int, default=0, metavar="PORT",
                       help="where sessions' data channels listen (default: a free port; fix it to let a firewall "
                            "or a Kubernetes Service through)")
    add_fault_arguments(serve)
    serve.set_defaults(func=cmd_serve, parser=serve)

    env = sub.add_parser("env", help="print `export` lines for boto3 / the AWS CLI: eval $(ssmlab emulator env)")
    env.set_defaults(func=cmd_env)
    return parser


def cmd_start(args: argparse.Namespace) -> int:
    from .process import start

    faults = fault_config(args, args.parser)
    line = _describe(start(port=args.port, time_scale=args.time_scale, faults=faults))
    print(f"{line}; {faults.describe()}" if faults is not None else line)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from .process import status, stop

    before = status()
    stop()
    print(f"emulator stopped (pid {before.pid})" if before.pid else "emulator not running")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .process import status

    current = status()
    print(json.dumps(current.to_json()) if args.json else _describe(current))
    return 0 if current.running else NOT_RUNNING


def cmd_serve(args: argparse.Namespace) -> int:
    from ssmlab import classkeys

    from .server import serve

    roster = classkeys.load(args.roster) if args.roster else None  # a bad file: one line, before anything starts
    if not 0 <= args.data_channel_port <= 65535:
        raise BadInput(f"--data-channel-port {args.data_channel_port} is not a TCP port; give 1-65535, or omit it")
    serve(args.host, args.port, time_scale=args.time_scale, faults=fault_config(args, args.parser), roster=roster,
          data_channel_port=args.data_channel_port)
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    from .process import client_environ

    for key, value in client_environ().items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def _time_scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"invalid time scale {text!r}: expected a positive number such as 10 or 600")
    return value


def _describe(current) -> str:
    log = f", log {_short(current.log_path)}" if current.log_path else ""
    if current.running:
        return f"emulator running at {current.endpoint_url} (pid {current.pid}{log})"
    if current.pid:
        return (f"emulator not answering at {current.endpoint_url} (pid {current.pid}{log}); "
                "run `ssmlab emulator stop`, then `ssmlab emulator start`")
    return "emulator not running; start it with `ssmlab emulator start`"


def _short(path: str) -> str:
    home = os.path.expanduser("~")
    return "~" + path[len(home):] if home != "/" and path.startswith(home + os.sep) else path
