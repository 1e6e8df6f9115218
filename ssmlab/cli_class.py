"""`ssmlab class status` and `ssmlab class cleanup`: a facilitator's view of every lab in a region, and its removal
at the end of a class. Parse, call, print (`classreport` reads, `classroom` makes the rows, `teardown` removes)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_commands(commands: Any) -> None:
    group = commands.add_parser("class", help="a class's labs: every participant's, for its facilitator")
    actions = group.add_subparsers(dest="class_command", metavar="ACTION", parser_class=type(group))
    actions.required = True

    def action(name: str, what: str, func: Any) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=what)
        parser.add_argument("--region", help="AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then ap-northeast-1)")
        parser.add_argument("--target", help="emulator (default) or aws")
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.set_defaults(func=func)
        return parser

    action("status", "every lab in the region: how far it got, its node, the doctor's errors, its cost per hour on "
                     "AWS, its last call", cmd_status)
    cleanup = action("cleanup", "remove every lab in the region (ssmlab cleanup --all-labs)", cmd_cleanup)
    cleanup.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    cleanup.add_argument("--yes", action="store_true", help="delete without asking (required on target aws)")


def cmd_status(args: argparse.Namespace) -> int:
    from ssmlab import banner, classreport, classroom
    from ssmlab.lab import Lab, default_region, default_target

    lab = Lab("class", args.region or default_region(), args.target or default_target())
    rows, now = classreport.read(lab)
    if args.json:
        print(json.dumps(classroom.to_json(rows, lab.region, now), indent=2))
    else:
        print(banner.line(lab, "every lab"))
        print(classroom.text(rows, lab.region))
    return 0


def cmd_cleanup(args: argparse.Namespace) -> int:
    """`ssmlab cleanup --lab NAME` for every lab found in the region, whatever its age (a bare network has none,
    which `cleanup --all-labs --older-than` would keep): one plan, removal and audit per lab; the worst exit code."""
    from ssmlab import inventory, teardown
    from ssmlab.cli import _ask_to_delete, _print_json, _say
    from ssmlab.lab import Lab, default_region, default_target

    finder = Lab("class", args.region or default_region(), args.target or default_target())
    names = sorted(found.name for found in inventory.find_labs(finder))
    reports, code = [], 0
    for name in names:
        try:
            report = teardown.cleanup(name, region=finder.region, target=finder.target, dry_run=args.dry_run,
                                      yes=args.yes, ask=None if args.json else _ask_to_delete,
                                      say=None if args.json else _say, terminal=True)
        except teardown.NotConfirmed as stop:  # a real account, no --yes, nobody said yes: stop as cleanup stops
            if args.json:
                _print_json({"region": finder.region, "labs": names, "cleanups": reports + [stop.report.to_json()]})
            raise
        reports.append(report.to_json())
        code = max(code, report.exit_code)
    if args.json:
        _print_json({"region": finder.region, "labs": names, "cleanups": reports})
    elif not names:
        print(f"no lab in {finder.region}: nothing to remove")
    return code
