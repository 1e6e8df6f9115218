"""`ssmlab class roster|keys|status|cleanup` and `ssmlab policy learner`: a facilitator's commands.

The roster and every participant's keys (`classkeys`), a view of every lab in a region and its removal at the end
of a class (`classreport` reads, `classroom` makes the rows, `teardown` removes), and the learner policy
(`learner`) for a real account. Parse, call, print."""

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

    roster = actions.add_parser("roster", help="write (or extend) a class's roster: its secret and participants")
    roster.add_argument("names", nargs="*", metavar="NAME", help="participants: JupyterHub user names or lab names")
    roster.add_argument("--out", required=True, metavar="FILE", help="the roster file (kept private: it holds the "
                        "secret every key derives from); an existing one keeps its secret and gains the names")
    roster.add_argument("--region", help="the class's region (default: the emulator's default)")
    roster.set_defaults(func=cmd_roster)
    keys = actions.add_parser("keys", help="the environment each participant (or the facilitator) needs")
    keys.add_argument("names", nargs="*", metavar="NAME", help="participants (default: every one in the roster)")
    keys.add_argument("--class", dest="roster", required=True, metavar="FILE", help="the roster")
    keys.add_argument("--url", help="the class emulator's URL, as participants reach it (default $SSMLAB_EMULATOR_URL)")
    keys.add_argument("--facilitator", action="store_true", help="the facilitator's keys and dashboard token")
    keys.add_argument("--json", action="store_true", help="machine-readable output")
    keys.set_defaults(func=cmd_keys)
    for made in (action("status", "every lab in the region: how far it got, its node, the doctor's errors, its cost "
                                  "per hour on AWS, its last call", cmd_status),
                 action("cleanup", "remove every lab in the region (ssmlab cleanup --all-labs)", cmd_cleanup)):
        made.add_argument("--class", dest="roster", metavar="FILE", help="act as the facilitator of this roster's class")
    cleanup = actions.choices["cleanup"]
    cleanup.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    cleanup.add_argument("--yes", action="store_true", help="delete without asking (required on target aws)")

    policy = commands.add_parser("policy", help="IAM policies the kit needs")
    kinds = policy.add_subparsers(dest="policy_kind", metavar="KIND", parser_class=type(group))
    kinds.required = True
    learner = kinds.add_parser("learner", help="the policy of a participant who may act only on their own lab: "
                                               "what a class emulator enforces, for a real account")
    learner.add_argument("--lab", required=True, help="the participant's lab name")
    learner.add_argument("--region", help="AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then ap-northeast-1)")
    learner.add_argument("--account", help="the account's 12-digit id (default: the target's, asked of STS)")
    learner.add_argument("--target", help="emulator (default) or aws: whose account id to ask")
    learner.set_defaults(func=cmd_policy_learner)


def _facilitator(args: argparse.Namespace) -> None:
    """With --class FILE: act as that class's facilitator (its keys, its region unless --region says)."""
    import os

    from ssmlab import classkeys, settings

    if not getattr(args, "roster", None):
        return
    roster = classkeys.load(args.roster)
    os.environ[settings.ACCESS_KEY_VAR], os.environ[settings.SECRET_KEY_VAR] = (
        roster.facilitator.access_key_id, roster.facilitator.secret_access_key)
    args.region = args.region or roster.region


def cmd_roster(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ssmlab import classkeys
    from ssmlab.errors import BadInput

    where = Path(args.out)
    old = classkeys.load(where) if where.exists() else None
    names = [old.users.get(lab, lab) for lab in old.participants] if old else []
    names += [n for n in args.names if n not in names]
    region = args.region or (old.region if old else None)
    if region is not None:
        from ssmlab.lab import validate_region

        validate_region(region)
    made = classkeys.roster(old.secret if old else classkeys.new_secret(), names, region)
    try:
        where.touch(mode=0o600)
        where.write_text(json.dumps(made.to_json(), indent=2) + "\n")
    except OSError as exc:
        raise BadInput(f"--out {where}: cannot write it ({exc.strerror}); give a writable path") from None
    print(f"{where}: {len(made.participants)} participant(s), secret {'kept' if old else 'new'}; "
          f"serve the class with: ssmlab emulator serve --host 0.0.0.0 --port 8765 --class {where}")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    import shlex

    from ssmlab import classkeys, settings
    from ssmlab.errors import BadInput

    roster = classkeys.load(args.roster)
    url = args.url or settings.current().emulator_url
    if args.facilitator:
        keys = roster.facilitator
        environ = {settings.ACCESS_KEY_VAR: keys.access_key_id, settings.SECRET_KEY_VAR: keys.secret_access_key,
                   settings.TARGET_VAR: "emulator", **({settings.EMULATOR_URL_VAR: url} if url else {})}
        found = {"facilitator": environ}
        dashboard = f"{url.rstrip('/') if url else 'EMULATOR-URL'}/ssmlab/class?token={roster.dashboard_token}"
    else:
        names = args.names or [roster.users.get(lab, lab) for lab in roster.participants]
        if not names:
            raise BadInput(f"--class {args.roster} lists no participants; name them: ssmlab class keys NAME... "
                           f"--class {args.roster}, or add them with ssmlab class roster NAME... --out {args.roster}")
        found = {name: classkeys.participant_environ(roster.secret, name, url) for name in names}
        dashboard = None
    if args.json:
        print(json.dumps({"participants": found} | ({"dashboard": dashboard} if dashboard else {}), indent=2))
        return 0
    for name, environ in found.items():
        print(f"# {name}")
        print("\n".join(f"export {key}={shlex.quote(value)}" for key, value in environ.items()))
    if dashboard:
        print(f"# the dashboard (keep the token private): {dashboard}")
    return 0


def cmd_policy_learner(args: argparse.Namespace) -> int:
    import re

    from ssmlab import learner
    from ssmlab.errors import BadInput
    from ssmlab.lab import Lab, default_region, default_target

    if args.account is not None and not re.fullmatch(r"\d{12}", args.account):
        raise BadInput(f"--account {args.account!r} is not an account id; give its 12 digits, e.g. 123456789012")
    lab = Lab(args.lab, args.region or default_region(), args.target or default_target())
    account = args.account or lab.account_id
    print(json.dumps(learner.policy(lab.name, partition=lab.partition, region=lab.region, account=account), indent=2))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from ssmlab import banner, classreport, classroom
    from ssmlab.lab import Lab, default_region, default_target

    _facilitator(args)
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

    _facilitator(args)
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
