"""`python -m ssmlab.emulator serve [--host H] [--port N] [--log-file PATH]`.

The entry point of the detached child that `start()` spawns; kept apart from the main
`ssmlab` CLI so the child imports nothing but the emulator.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from ..errors import BadInput
from .faults import add_arguments as add_fault_arguments
from .faults import from_args as fault_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ssmlab.emulator")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_parser = sub.add_parser("serve", help="run the emulator in the foreground")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=0, help="0 (default) picks a free port")
    serve_parser.add_argument("--log-file", default=None, help="where this process's output goes (recorded only)")
    serve_parser.add_argument("--time-scale", type=float, default=None, help="simulated seconds per wall second")
    add_fault_arguments(serve_parser)
    args = parser.parse_args(argv)
    faults = fault_config(args, serve_parser)

    from .server import serve

    try:
        serve(args.host, args.port, log_path=args.log_file, time_scale=args.time_scale, faults=faults)
    except BadInput as exc:
        print(f"ssmlab emulator: {exc}", file=sys.stderr)
        return 2
    # Served and cleaned up (socket closed, state file removed): leave without the interpreter's
    # teardown of moto's state, which took about 3 s of every stop (measured after one build), time
    # that `ssmlab emulator stop` and every test's emulator spent waiting for the process to go.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
