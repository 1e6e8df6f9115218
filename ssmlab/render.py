"""Plain-text rendering for the terminal: progress lines and the status table."""

from __future__ import annotations

import shutil
import textwrap

MARKS = {"complete": "ok", "partial": "!!", "missing": "--", "duplicate": "2x"}
STEP = 18  # the longest step name, session-encryption


def step_line(number: int, total: int, report) -> str:
    """One progress line per build step: what it is, what was created or found, how long it took."""
    what = f"created {len(report.created)}" if report.created else "already there"
    return f"[{number}/{total}] {report.step:<{STEP}} {what:<14} {report.seconds:5.1f}s  {report.summary}"


def wrapped(text: str, width: int) -> list[str]:
    """Lines of at most `width`, broken at spaces only: an AWS id (vpc-0a1b..., i-0c2d...) stays whole, so it
    can be found and copied (textwrap's default also breaks after a hyphen, splitting ids over two lines)."""
    return textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=False)


def status_table(steps) -> str:
    width = max(60, min(shutil.get_terminal_size((120, 20)).columns, 160))
    indent = 2 + 2 + 2 + STEP + 2 + 9 + 2
    lines = [f"  {'':2}  {'step':<{STEP}}  {'status':<9}  detail", f"  {'':2}  {'-' * STEP}  {'-' * 9}  {'-' * 20}"]
    for s in steps:
        detail = [line for part in s.detail.split("; ") for line in wrapped(part, max(20, width - indent))] or [""]
        lines.append(f"  {MARKS.get(s.status, '  ')}  {s.step:<{STEP}}  {s.status:<9}  {detail[0]}")
        lines.extend(" " * indent + more for more in detail[1:])
    return "\n".join(lines)


def print_status_table(steps) -> None:
    print(status_table(steps))


SEVERITY_MARKS = {"error": "ERROR", "warning": "WARN ", "info": "info "}


def diagnosis_text(diagnosis) -> str:
    """The doctor's report: each required service's path hop by hop, then the findings with their fixes."""
    managed = {True: "yes", False: "NO", None: "unknown"}[diagnosis.managed]
    lines = [f"doctor: {diagnosis.instance_id or '(no instance)'} in {diagnosis.region} — managed node: {managed}"]
    for service, path in diagnosis.paths.items():
        if path is None:
            continue
        verdict = "reachable" if path.reachable else "BLOCKED"
        lines.append(f"\n  {service}: {verdict} — {path.resolution.detail}")
        for hop in path.hops:
            lines.append(f"    {'ok' if hop.passed else 'XX'}  {hop.name:<20} {hop.detail}")
    lines.append("")
    if not diagnosis.findings:
        lines.append("  no findings: everything the API shows is in order")
    for finding in diagnosis.findings:
        lines.append(f"  {SEVERITY_MARKS[finding.severity]} {finding.code}  {finding.resource or ''}".rstrip())
        lines.extend(f"         {line}" for line in wrapped(finding.message, 100))
        lines.append(f"         fix: {finding.fix}")  # one line, so the command copies whole
    lines.append(f"\n  IAM checked with {diagnosis.iam_method}.")
    lines.append("  Not visible to the doctor: " + "; ".join(diagnosis.blind_spots) + ".")
    return "\n".join(lines)


# -- cleanup ---------------------------------------------------------------------------

def plan_text(deletions) -> str:
    """The teardown plan, one numbered line per deletion: step, what, the call, why."""
    if not deletions:
        return "nothing to delete: no resource carries this lab's tag"
    width = len(str(len(deletions)))
    return "\n".join(
        f"{n:>{width}}. {d.step:<26} {d.kind} {d.resource_id}  [{d.call}]  {d.why}" for n, d in enumerate(deletions, 1)
    )


def notes_text(notes) -> str:
    """What the cleanup leaves alone, each with why (before the plan)."""
    return "\n".join(f"note: {note}" for note in notes)


def outcome_line(number: int, total: int, outcome) -> str:
    d = outcome.deletion
    status = {"deleted": "deleted", "already gone": "already gone", "failed": "FAILED"}[outcome.status]
    status = "scheduled" if status == "deleted" and d.operation == "schedule_key_deletion" else status  # KMS: 7 days
    tail = f"  {outcome.detail}" if outcome.detail else ""
    return f"[{number}/{total}] {status:<12} {d.kind} {d.resource_id}{tail}"


def removal_summary(removal) -> str:
    """After a lab's deletions: how many ended each way."""
    return (f"{removal.deleted} deleted, {removal.count('already gone')} already gone, "
            f"{removal.count('failed')} failed")


def audit_text(left) -> str:
    if not left:
        return "audit: nothing carries this lab's tag any more"
    return "\n".join([f"audit: {len(left)} resource(s) left:"] + [f"  {x.kind} {x.resource_id}" for x in left])


def labs_text(found, now, older_than) -> str:
    """The labs found in the region, oldest first, and whether they will be removed."""
    if not found:
        return "no lab found in this region"
    lines = []
    for lab in found:
        age = lab.age(now)
        shown = "age unknown" if age is None else f"age {_duration(age)}"
        verdict = "remove" if lab.older_than(older_than, now) else "keep"
        lines.append(f"  {verdict:<6} {lab.name:<24} {shown}")
    return "\n".join(lines)


def _duration(delta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600}h"


# -- cost ------------------------------------------------------------------------------

def cost_text(result, lab_cost=None) -> str:
    """The cost table (a line per option, how each figure is made), trade-offs, break-evens, price source."""
    s = result.scenario
    from ssmlab.cost import count

    head = (f"Reaching a private instance in {s.region} ({result.location}): {count(s.azs, 'AZ')}, {s.billed_hours} h, "
            f"{s.gb:g} GB per participant" + (f", {s.participants} participants" if s.participants > 1 else ""))
    width = max(len(o.title) for o in result.options)
    lines = [head, "", f"  {'option':<{width}}  {'USD ' + s.period:>16}" + ("  per participant" if s.participants > 1 else "")]
    for option in result.options:
        each = f"  {option.per_participant:>15,.2f}" if s.participants > 1 else ""
        lines.append(f"  {option.title:<{width}}  {option.total:>16,.2f}{each}")
        lines.extend(f"      {line.detail} = ${line.usd:,.2f}" for line in option.lines)
    lines += ["", "Trade-offs"]
    for option in result.options:
        lines.append(f"  {option.title}: {option.tradeoff}")
    lines += ["", "Break-even"] + [f"  {b.text}" for b in result.break_even]
    dates = f"; figures dated {result.as_of[0]} to {result.as_of[1]}" if result.as_of else ""
    lines += ["", f"Prices: {result.price_source}{dates}. On-Demand list prices in USD, before tax, free tier and "
              "discounts; a month is 730 hours."]
    if result.unverified:
        lines.append(f"  single-source (unverified) figures used on request: {', '.join(result.unverified)}")
    if lab_cost is not None:
        lines += ["", lab_cost_text(lab_cost)]
    return "\n".join(lines)


def lab_cost_text(lab_cost) -> str:
    if not lab_cost.lines:
        return "This lab so far: nothing billed by the hour exists (no interface endpoint, no public IPv4 address)."
    lines = [f"This lab so far: ${lab_cost.total:,.2f}, and ${lab_cost.hourly:,.3f} per hour while it stands"]
    lines += [f"  {line.detail} = ${line.usd:,.2f}" for line in lab_cost.lines]
    lines.append(f"  ({lab_cost.not_counted})")
    return "\n".join(lines)


def hourly_cost_line(book, region: str, *, azs: int, endpoints: int) -> str:
    """What target aws says before it creates anything: the endpoints' hourly cost, or why it cannot say."""
    from ssmlab.cost import hourly_lab_estimate
    from ssmlab.prices import HOURS_PER_MONTH
    from ssmlab.errors import BadInput

    try:
        hourly = hourly_lab_estimate(book, region, azs=azs, endpoints=endpoints)
    except BadInput as error:
        return f"cost: {error}"
    if not endpoints:
        return "cost: these steps create no interface endpoint (the instance, when launched, is billed by the hour)"
    return (f"cost: {endpoints} interface endpoints x {azs} AZ = ${hourly:.3f} per hour (${hourly * HOURS_PER_MONTH:,.2f} "
            f"a month) until `ssmlab cleanup`, plus the instance; `ssmlab cost --region {region}` compares the options")


def endpoints_text(state) -> str:
    """One line per VPC endpoint that exists (gone ones left out: AWS lists deleted endpoints for a while):
    its service, id, state, private DNS and the private IPs of its network interfaces."""
    from ssmlab.model import GONE_ENDPOINT_STATES

    addresses = {eni.eni_id: eni.private_ip for eni in state.network_interfaces}
    lines = [f"{e.service:<12} {e.endpoint_id} {e.endpoint_type.lower()}, {e.state}, private DNS "
             f"{'on' if e.private_dns else 'OFF'}, interfaces {[addresses.get(n) for n in e.network_interface_ids]}"
             for e in sorted(state.endpoints, key=lambda e: e.service) if e.state not in GONE_ENDPOINT_STATES]
    return "\n".join(lines) or "no endpoint"


def fix_commands_text(commands: list) -> str:
    """What `doctor --fix` is about to run, one shell line each."""
    import shlex

    return f"\nThe fixes, {len(commands)} AWS CLI command(s):\n" + "\n".join(f"  $ {shlex.join(c)}" for c in commands)


def applied_text(applied) -> str:
    head = f"  {'ok' if applied.ok else 'FAILED'} (exit {applied.exit_code}): {' '.join(applied.command[:3])}"
    return head + ("".join(f"\n         {line}" for line in applied.output.splitlines()[:5]) if not applied.ok else "")


def repair_text(outcome) -> str:
    """After `doctor --fix`: what ran, then the doctor's report once more."""
    if outcome.declined:
        return "Nothing was run."
    if not outcome.applied:
        return "\nNo finding has a fix command to run."
    failed = outcome.failed
    said = (f"\nA command failed, so the rest did not run: {' '.join(failed.command)}" if failed else
            f"\n{len(outcome.applied)} command(s) ran. The doctor again:")
    return said + "\n\n" + "\n\n".join(diagnosis_text(d) for d in outcome.after)
