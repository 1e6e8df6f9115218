"""The `ssmlab` command: parse, call the library, print. No logic of its own.

Exit codes: 0 success, 1 AWS refused something or the lab is incomplete, 2 bad input
(one line on stderr naming the value and the accepted form; nothing created).
Heavy imports (boto3, moto, matplotlib, diagrams, papermill) happen inside the commands,
so `ssmlab --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys

from ssmlab import __version__, cli_class, cli_sessions
from ssmlab.errors import BadInput, SsmlabError


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the bad value and the accepted form), exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _lab_name(text: str) -> str:
    """--lab, checked as it is parsed: an empty or invalid name given explicitly is bad input in every command."""
    from ssmlab.lab import validate_name

    try:
        return validate_name(text)
    except BadInput as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _lab_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lab", required=True, type=_lab_name, help="lab name: 1-24 lowercase letters, digits, hyphens")
    _region_argument(parser)
    parser.add_argument(
        "--target", help="emulator (default, offline) or aws (a real account; asked for explicitly)"
    )


def _region_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", help="AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then ap-northeast-1)")


def _lab(args: argparse.Namespace):
    from ssmlab.lab import Lab, default_region, default_target

    return Lab(args.lab, args.region or default_region(), args.target or default_target())


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a whole number of 1 or more") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a whole number of 1 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    from ssmlab.build import STEPS
    from ssmlab.emulator.commands import register as register_emulator

    parser = _Parser(
        prog="ssmlab",
        description="Build, inspect and explain a Session Manager lab in a private subnet, "
        "on the embedded AWS emulator (default) or a real account (--target aws).",
    )
    parser.add_argument("--version", action="version", version=f"ssmlab {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    register_emulator(commands)

    build = commands.add_parser("build", help="build the lab step by step (idempotent)")
    _lab_arguments(build)
    build.add_argument("--until", choices=STEPS, metavar="STEP", help=f"stop after this step: {', '.join(STEPS)}")
    build.add_argument("--cidr", default="10.0.0.0/16", help="the VPC's CIDR, private, /16 to /28 (default 10.0.0.0/16)")
    build.add_argument("--azs", type=_positive, default=1, help="private subnets, one per AZ (default 1)")
    build.add_argument(
        "--subnet-cidr", action="append", dest="subnet_cidrs", metavar="CIDR",
        help="a subnet's CIDR inside the VPC, once per AZ (default: /24s carved from the VPC)",
    )
    build.add_argument("--instance-type", default="t3.micro", help="default t3.micro")
    build.add_argument(
        "--with-ec2messages", action="store_true",
        help="also the ec2messages endpoint, for SSM Agents older than 3.3.40.0 (retired by AWS on 2026-09-30)",
    )
    build.add_argument(
        "--session-logging", nargs="?", const="cloudwatch,s3", metavar="DESTINATIONS",
        help="also set up session logging: cloudwatch, s3 or cloudwatch,s3 (the default when given alone)",
    )
    build.add_argument("--session-encryption", action="store_true",
                       help="also encrypt session data with a KMS key (alias/ssmlab-LAB-sessions) and the kms endpoint")
    build.set_defaults(func=cmd_build)

    status = commands.add_parser("status", help="what of the lab exists")
    _lab_arguments(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_status)

    doctor = commands.add_parser("doctor", help="explain why an instance is not managed or cannot start a session")
    which = doctor.add_mutually_exclusive_group(required=True)
    which.add_argument("--instance-id", help="any EC2 instance in the region (not only labs)")
    which.add_argument("--lab", type=_lab_name, help="the lab's instance(s)")
    _region_argument(doctor)
    doctor.add_argument("--target", help="emulator (default) or aws")
    doctor.add_argument("--json", action="store_true", help="machine-readable output (DESIGN.md's shape)")
    doctor.add_argument("--fix", action="store_true", help="run the fixes' AWS CLI commands, then diagnose again")
    doctor.add_argument("--yes", action="store_true", help="with --fix on target aws: do not ask first")
    doctor.set_defaults(func=cmd_doctor)

    cli_sessions.add_commands(commands, _lab_arguments)  # connect, forward
    cli_class.add_commands(commands)  # class status, class cleanup

    cost = commands.add_parser(
        "cost", help="what Session Manager's endpoints cost, against EC2 Instance Connect Endpoint and a NAT gateway")
    _region_argument(cost)
    cost.add_argument("--azs", type=int, default=1, help="Availability Zones the endpoints (or NAT gateways) span (default 1)")
    cost.add_argument("--hours", type=float, default=730.0, help="hours priced (default 730: a month)")
    cost.add_argument("--gb", type=float, default=1.0, help="GB per participant through the endpoints or NAT (default 1)")
    cost.add_argument("--participants", type=int, default=1,
                      help="people (or VPCs), each with their own lab; also priced: one set of endpoints shared")
    cost.add_argument("--nat-gateways", type=int, default=1, help="NAT gateways per VPC (default 1; one per AZ for resilience)")
    cost.add_argument("--live", action="store_true", help="ask the Pricing API (of --target) instead of the shipped snapshot")
    cost.add_argument("--unverified", action="store_true", help="let single-source figures from the snapshot in (said next to the result)")
    cost.add_argument("--lab", type=_lab_name, help="also what this lab has cost so far, from its resources' creation times")
    cost.add_argument("--target", help="emulator (default) or aws: where --live and --lab look")
    cost.add_argument("--json", action="store_true", help="machine-readable output")
    cost.add_argument("--plot", metavar="FILE", help="also write the three cost charts to this file: .png, .svg or .pdf")
    cost.set_defaults(func=cmd_cost)

    cleanup = commands.add_parser("cleanup", help="delete a lab's resources (only those carrying its tag), then audit")
    cleanup.add_argument("--lab", type=_lab_name, help="the lab to remove: 1-24 lowercase letters, digits, hyphens")
    cleanup.add_argument("--all-labs", action="store_true", help="every lab in the region older than --older-than")
    cleanup.add_argument("--older-than", metavar="DURATION", help="with --all-labs: an age such as 30m, 3h or 2d")
    _region_argument(cleanup)
    cleanup.add_argument("--target", help="emulator (default) or aws")
    cleanup.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    cleanup.add_argument("--json", action="store_true", help="machine-readable output")
    cleanup.add_argument("--yes", action="store_true", help="delete without asking (required on target aws)")
    cleanup.set_defaults(func=cmd_cleanup)

    run = commands.add_parser("run", help="execute the notebooks in order with papermill into build/")
    run.add_argument("--lab", type=_lab_name, help="lab name (default: one of the run's own, e.g. run-1129-144951-3f)")
    run.add_argument("--only", action="append", metavar="NN", help="run only notebook NN (repeatable), e.g. --only 05")
    run.add_argument("--keep", action="store_true", help="skip the cleanup notebook (11_cleanup): the lab stays")
    _region_argument(run)
    run.add_argument("--target", help="emulator (default, started when needed) or aws (a real account, billed)")
    run.add_argument("--output-dir", default="build", metavar="DIR", help="executed notebooks and pictures (default build/)")
    run.add_argument("--cell-timeout", type=float, metavar="SECONDS", help="per cell (default 120 on the emulator, 1200 on aws)")
    run.add_argument("--notebook-timeout", type=float, metavar="SECONDS",
                     help="per notebook (default 600 on the emulator, 3600 on aws)")
    run.set_defaults(func=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BadInput as error:
        print(f"ssmlab: error: {error}", file=sys.stderr)
        return 2
    except SsmlabError as error:
        print(f"ssmlab: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ssmlab: interrupted; run the same command again to continue where it stopped", file=sys.stderr)
        return 130


# -- commands ------------------------------------------------------------------------


def cmd_build(args: argparse.Namespace) -> int:
    from ssmlab import banner, build, inventory, status
    from ssmlab.render import print_status_table, step_line

    lab = _lab(args)
    options = build.BuildOptions(
        cidr=args.cidr,
        azs=args.azs,
        subnet_cidrs=tuple(args.subnet_cidrs or ()),
        instance_type=args.instance_type,
        with_ec2messages=args.with_ec2messages,
        session_logging=tuple(d.strip() for d in args.session_logging.split(",")) if args.session_logging else (),
        session_encryption=args.session_encryption,
    )
    steps = build.steps_to_run(args.until, options)
    print(banner.line(lab), flush=True)
    if not lab.is_emulator:
        from ssmlab.prices import PriceBook
        from ssmlab.render import hourly_cost_line

        endpoints = build.interface_endpoints(steps, options)
        print(hourly_cost_line(PriceBook.offline(), lab.region, azs=options.azs, endpoints=len(endpoints)), flush=True)
    result = build.build(lab, options, until=args.until, report=lambda n, total, r: print(step_line(n, total, r), flush=True))
    created = len(result.created)
    print(f"\n{created} resource(s) created" + ("" if created else " (everything was already there)"))
    print_status_table(status.lab_status(inventory.snapshot(lab)))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from ssmlab import banner, inventory, status
    from ssmlab.render import print_status_table

    lab = _lab(args)
    steps = status.lab_status(inventory.snapshot(lab))
    if args.json:
        print(json.dumps({"lab": lab.name, "region": lab.region, "target": lab.target, "steps": [s.to_json() for s in steps]}, indent=2))
    else:
        print(banner.line(lab))
        print_status_table(steps)
    return 0



def cmd_doctor(args: argparse.Namespace) -> int:
    import re

    from ssmlab.checkup import checkup
    from ssmlab.lab import Lab, default_region, default_target
    from ssmlab.render import diagnosis_text

    if args.instance_id and not re.fullmatch(cli_sessions.INSTANCE_ID_RE, args.instance_id):
        raise BadInput(f"invalid instance id {args.instance_id!r}: expected i- followed by 8 or 17 hex digits")
    # A lab name is needed for the clients' labelling only; any instance in the region can be diagnosed.
    lab = Lab(args.lab or "doctor", args.region or default_region(), args.target or default_target())
    if args.yes and not args.fix:
        raise BadInput("invalid option --yes without --fix: it answers --fix's question")
    diagnoses = checkup(lab, args.instance_id)
    if args.fix:
        return _doctor_fix(lab, args, diagnoses)
    if args.json:
        payload = [d.to_json() for d in diagnoses]
        print(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
    else:
        print("\n\n".join(diagnosis_text(d) for d in diagnoses))
    return 0 if all(d.ok for d in diagnoses) else 1


def _doctor_fix(lab, args: argparse.Namespace, diagnoses: list) -> int:
    from ssmlab import repair
    from ssmlab.render import applied_text, diagnosis_text, fix_commands_text, repair_text

    if not args.json:
        print("\n\n".join(diagnosis_text(d) for d in diagnoses))

    def confirm(commands: list) -> bool:
        if not args.json:
            print(fix_commands_text(commands))
        if not repair.asks(lab, yes=args.yes):
            return True
        if args.json or not sys.stdin.isatty():
            raise BadInput("doctor --fix on a real account asks before it changes anything: add --yes to run the "
                           "commands without asking")
        return input(f"Run these {len(commands)} command(s) in {lab.region}? [y/N] ").strip().lower() in ("y", "yes")

    outcome = repair.repair(lab, args.instance_id, confirm=confirm, before=diagnoses,
                            on_applied=(lambda a: None) if args.json else (lambda a: print(applied_text(a))))
    if args.json:
        print(json.dumps({"applied": [a.to_json() for a in outcome.applied], "declined": outcome.declined,
                          "diagnoses": [d.to_json() for d in outcome.after]}, indent=2))
    else:
        print(repair_text(outcome))
    return 0 if all(d.ok for d in outcome.after) else 1


def cmd_cleanup(args: argparse.Namespace) -> int:
    from ssmlab import teardown

    try:
        report = teardown.cleanup(
            args.lab, all_labs=args.all_labs, older_than=args.older_than, region=args.region, target=args.target,
            dry_run=args.dry_run, yes=args.yes, ask=None if args.json else _ask_to_delete,
            say=None if args.json else _say, terminal=True,
        )
    except teardown.NotConfirmed as stop:
        if args.json:
            _print_json(stop.report.to_json())
        raise
    if args.json:
        _print_json(report.to_json())
    return report.exit_code


def _ask_to_delete(removal) -> bool:
    """A person at a terminal confirms a cleanup on a real account here; without one, nobody can."""
    if not sys.stdin.isatty():
        return False
    answer = input(f"Delete these {len(removal.deletions)} resource(s) from the real AWS account? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _print_json(document) -> None:
    print(json.dumps(document, indent=2, default=str))


def cmd_cost(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from ssmlab import cost, inventory
    from ssmlab.lab import Lab, default_region, default_target
    from ssmlab.inventory import pricing
    from ssmlab.prices import PriceBook
    from ssmlab.render import cost_text

    region = args.region or default_region()
    scenario = cost.Scenario(region, azs=args.azs, hours=args.hours, gb=args.gb, participants=args.participants,
                             nat_gateways=args.nat_gateways)
    lab = Lab(args.lab or "cost", region, args.target or default_target()) if (args.live or args.lab) else None
    if args.live and args.unverified:
        raise BadInput("--unverified applies to the snapshot only: the Pricing API's figures are AWS's own")
    plot = None
    if args.plot is not None:
        from ssmlab import costplot, paths

        plot = paths.output_file(args.plot, "--plot", costplot.FORMATS)
    if args.live:
        book = pricing.live(lab, region=None if plot else region)
    else:
        book = PriceBook.offline(unverified=args.unverified)
    result = cost.estimate(book, scenario)
    so_far = cost.lab_cost(inventory.snapshot(lab), book, datetime.now(timezone.utc)) if args.lab else None
    if plot:
        _say(plot.make("the cost charts"), stderr=args.json)
        costplot.save(costplot.overview(book, result), plot.path)
    if args.json:
        document = result.to_json()
        if so_far is not None:
            document["lab"] = {"name": lab.name, **so_far.to_json()}
        if plot:
            document["plot"] = str(plot.path)
        print(json.dumps(document, indent=2))
    else:
        print(cost_text(result, so_far))
        if plot:
            print(f"\ncharts written to {plot.path}")
    return 0


def _say(line: str | None, stderr: bool = False) -> None:
    """A line about what the command did on the side (stderr when stdout carries JSON)."""
    if line:
        print(line, file=sys.stderr if stderr else sys.stdout, flush=True)


def cmd_run(args: argparse.Namespace) -> int:
    from ssmlab import banner, paths, runner
    from ssmlab.lab import Lab, default_region, default_target

    notebooks = runner.select(runner.discover(runner.notebooks_dir()), args.only or (), keep=args.keep)
    lab = Lab(args.lab or runner.unique_lab_name(), args.region or default_region(), args.target or default_target())
    runner.timeouts(lab.target, args.cell_timeout, args.notebook_timeout)  # bad values stop here, before anything starts
    output = paths.output_dir(args.output_dir)
    print(banner.line(lab), flush=True)  # on the emulator, this starts it when needed
    _say(output.make("the executed notebooks"))
    def progress(number: int, total: int, name: str, result) -> None:
        line = runner.progress_line(number, total, name, result)
        if result is not None:
            print(line, flush=True)
        elif sys.stdout.isatty():  # the notebook running now, overwritten by its result line
            print(line, end="\r", flush=True)

    results = runner.run(lab, notebooks, output.path, cell_timeout=args.cell_timeout,
                         notebook_timeout=args.notebook_timeout, progress=progress, say=_say)
    print("\n" + runner.table(results))
    print(f"\nexecuted notebooks and pictures in {args.output_dir.rstrip('/')}/")
    failures = runner.failure_lines(results, lab)
    for line in failures:
        print(f"ssmlab: {line}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
