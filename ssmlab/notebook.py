"""What the notebooks show around the package's work: where they act, the cost banner, the
preflight, the earlier steps ensured, the checkpoint, and values recorded for the tests.

A notebook cell stays prose-sized: one or two calls into `ssmlab` and a look at the result.
Everything a notebook decides lives here or in the modules it calls, never only in a cell.
Outside Jupyter (plain Python, tests) the helpers print instead of displaying HTML.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from ssmlab import banner
from ssmlab.errors import LabError
from ssmlab.lab import Lab, default_lab_name, default_region, default_target
from ssmlab.realtime import fast_forward, wait_until_managed  # noqa: F401 - the notebooks call them from here

RECORD_MIME = "application/vnd.ssmlab.record+json"
"""Values a notebook records for its tests (and `ssmlab run`), read back from the executed notebook."""


# -- where the notebook acts ------------------------------------------------------------


def start(lab_name: str, region: str | None = None, target: str | None = None) -> Lab:
    """The notebook's Lab, after saying where it acts; on target aws, the cost banner first."""
    lab = Lab(lab_name or default_lab_name(), region or default_region(), target or default_target())
    show_html(banner.html(lab), banner.text(lab))
    record("target", {"lab": lab.name, "region": lab.region, "target": lab.target})
    return lab


def preflight(lab: Lab) -> dict[str, Any]:
    """Can the notebook reach its target? The emulator answering (and its clock), or whose AWS account.

    Returns what it found (and records it); raises a one-line error when the target cannot be reached.
    """
    if lab.is_emulator:
        from ssmlab.emulator import control

        clock = control.clock(lab)
        found = {"target": "emulator", "endpoint_url": lab.endpoint_url, "region": lab.region,
                 "time_scale": clock.get("scale")}
        print(f"emulator answering at {lab.endpoint_url}; simulated time runs x{clock.get('scale')} "
              f"faster than the wall clock")
    else:
        from ssmlab.aws import explained

        with explained("asking AWS who you are (sts:GetCallerIdentity)"):
            identity = lab.client("sts").get_caller_identity()
        found = {"target": "aws", "account": identity["Account"], "arn": identity["Arn"], "region": lab.region}
        print(f"AWS credentials work: {identity['Arn']} in account {identity['Account']}, region {lab.region}")
    record("preflight", found)
    return found


# -- the lab's steps ----------------------------------------------------------------------


def ensure(lab: Lab, until: str, *, session_logging: Iterable[str] = (), session_encryption: bool = False,
           quiet: bool = False) -> dict[str, Any]:
    """Make sure the lab's steps up to `until` exist (idempotent: what is there is kept), one line per step.

    This is how any notebook can run on its own: it first ensures the earlier steps. The optional steps
    run when asked for (`session_logging` destinations, `session_encryption`) or named by `until`.
    Returns each step's result by step name (e.g. results["network"].vpc_id).
    """
    from ssmlab import build
    from ssmlab.render import step_line

    options = build.BuildOptions(session_logging=tuple(session_logging), session_encryption=session_encryption)
    report = None if quiet else (lambda n, total, r: print(step_line(n, total, r), flush=True))
    return build.build(lab, options, until=until, report=report).results


def checkpoint(lab: Lab, steps: Iterable[str], next_step: str) -> None:
    """Verify that `steps` are complete (else raise, naming what is missing), show the status, say what comes next."""
    from ssmlab import inventory, status
    from ssmlab.render import status_table

    current = status.lab_status(inventory.snapshot(lab))
    by_step = {s.step: s for s in current}
    wanted = list(steps)
    print(status_table(current))
    record("checkpoint", {s.step: s.status for s in current})
    missing = [f"{s} is {by_step[s].status}" for s in wanted if by_step[s].status != status.COMPLETE]
    if missing:
        from ssmlab.exercises import unsolved

        open_ones = ", ".join(e.key for e in unsolved(lab.name))
        todo = (f"exercise {open_ones} is not solved yet: its check says what is missing" if open_ones
                else "run this notebook's cells again")
        raise LabError(f"checkpoint failed for lab {lab.name}: {'; '.join(missing)}; {todo}")
    print(f"\ncheckpoint passed: {', '.join(wanted) or 'nothing to check'} complete.\nNext: {next_step}")


def picture(pictures_dir: str, name: str) -> str:
    """Where a diagram goes (without extension): `pictures_dir/name`, the folder made if needed."""
    folder = Path(pictures_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / name)


def doctor(lab: Lab, instance_id: str, record_as: str | None = None):
    """The doctor's report for one instance (what `ssmlab doctor --instance-id` prints); returns the Diagnosis."""
    from ssmlab.checkup import checkup
    from ssmlab.render import diagnosis_text

    diagnosis = checkup(lab, instance_id)[0]
    print(diagnosis_text(diagnosis))
    if record_as:
        record(record_as, {"ok": diagnosis.ok, "managed": diagnosis.managed, "errors": diagnosis.codes("error"),
                           "codes": diagnosis.codes()})
    return diagnosis


def fix(lab: Lab, instance_id: str, record_as: str | None = None):
    """`ssmlab doctor --instance-id ID --fix`: run the doctor's fix commands (the AWS CLI), then diagnose again."""
    from ssmlab import repair
    from ssmlab.render import applied_text, fix_commands_text, repair_text

    outcome = repair.repair(lab, instance_id, confirm=lambda commands: print(fix_commands_text(commands)) or True,
                            on_applied=lambda applied: print(applied_text(applied)))
    print(repair_text(outcome))
    if record_as:
        record(record_as, {"ran": [" ".join(a.command[:3]) for a in outcome.applied], "ok": outcome.after[0].ok})
    return outcome


def agent_log(lab: Lab, instance_id: str | None = None) -> dict | None:
    """The simulated agents' log (`GET /ssmlab/agents`) on the emulator; None on AWS, where the agent's
    own log is on the instance (/var/log/amazon/ssm/amazon-ssm-agent.log)."""
    if not lab.is_emulator:
        print("on AWS the agent's log is on the instance: /var/log/amazon/ssm/amazon-ssm-agent.log")
        return None
    from ssmlab.emulator import control

    return control.agents(lab, instance_id)


def agent_file(lab: Lab, instance_id: str, name: str = "amazon-ssm-agent.log", lines: int = 15) -> None:
    """Print the last `lines` of one of the agent's log files (amazon-ssm-agent.log or hibernate.log), as
    `sudo tail -n N /var/log/amazon/ssm/NAME` on the instance shows them; on AWS, say how to read them."""
    path = f"/var/log/amazon/ssm/{name}"
    if not lab.is_emulator:
        print(f"on AWS the file is on the instance: sudo tail -n {lines} {path}")
        return
    from ssmlab.emulator import control

    agents = control.agents(lab, instance_id)["agents"]
    found = agents[0].get("files", {}).get(path) if agents else None
    if found is None:
        print(f"{instance_id} has no simulated agent (no agent in its AMI, or it is gone)")
        return
    print(f"$ sudo tail -n {lines} {path}")
    print("\n".join(found[-lines:]) or "(empty)")


def show_figure(figure: Any) -> None:
    """Display a matplotlib figure once (and release it). A figure already saved as a PNG shows as that
    file, at the size the inline backend would draw it (the file's higher resolution makes it sharper),
    instead of being drawn a second time."""
    import matplotlib.pyplot as plt

    from ssmlab import figures

    try:
        from IPython.display import Image, display

        saved = figures.saved_png(figure)
        if saved is not None:
            display(Image(filename=str(saved), width=round(figure.get_figwidth() * figures.INLINE_DPI)))
        else:
            display(figure)
    finally:
        plt.close(figure)


def lab_cost_so_far(lab: Lab, book: Any, pictures_dir: str, name: str = "10_lab") -> Any:
    """What the lab has cost so far, read only (pricing creates nothing): what bills by the hour drawn and
    priced from its creation times; when nothing of the lab exists, one line saying so (and that nothing
    of it is billed), and None. Returns the `cost.LabCost`."""
    import datetime as dt

    from ssmlab import cost, inventory, status
    from ssmlab.render import lab_cost_text

    state = inventory.snapshot(lab)
    if all(s.status == status.MISSING for s in status.lab_status(state)):
        where = "on the embedded emulator" if lab.is_emulator else f"in AWS account {lab.account_id}"
        print(f"There is no lab {lab.name} in {lab.region} {where}: nothing of it exists, so nothing of it is billed. "
              "(Pricing created nothing either; notebooks 01-05 build the lab.)")
        record("lab_cost", {"exists": False, "usd": 0.0, "usd_per_hour": 0.0, "lines": []})
        return None
    from ssmlab import diagram

    _show_image(diagram.architecture(state, filename=picture(pictures_dir, name),
                                     title="10 · what bills by the hour: each interface endpoint, in each AZ"))
    so_far = cost.lab_cost(state, book, dt.datetime.now(dt.timezone.utc))
    print(lab_cost_text(so_far))
    record("lab_cost", {"exists": True, **so_far.to_json()})
    return so_far


def _show_image(path: Any) -> None:
    def image() -> Any:
        from IPython.display import Image

        return Image(filename=str(path))

    _show(image, f"picture: {path}")


def start_session_command(lab: Lab, instance_id: str) -> str:
    """The terminal command that opens an interactive session: on AWS the AWS CLI's (it needs the Session Manager
    plugin); on the emulator ssmlab's own client, which speaks the same data channel (`ssmlab connect`)."""
    if lab.is_emulator:
        return f"ssmlab connect --lab {lab.name} --instance-id {instance_id} --region {lab.region}"
    return f"aws ssm start-session --target {instance_id} --region {lab.region}"


class Typed(list):
    """The (command, output, exit code) of each line typed in a shell session, that session's id and prompt."""

    session_id = prompt = ""


def shell(lab: Lab, instance_id: str, commands: list[str], record_as: str | None = None) -> Typed:
    """Open a Session Manager shell on the instance, type each command, show what the terminal shows, leave."""
    from ssmlab.session.client import open_shell

    typed = Typed()
    with open_shell(lab, instance_id) as session:
        typed.session_id, typed.prompt = session.session_id, session.prompt
        for command in commands:
            output, code = session.run(command)
            print(f"{session.prompt}{command}\n{output}", end="" if output.endswith("\n") or not output else "\n")
            typed.append((command, output, code))
    if record_as:
        record(record_as, {"exit_codes": [code for _, _, code in typed]})
    return typed


def session_record(lab: Lab, session_id: str) -> dict[str, Any]:
    """The session's transcript read back from where the preferences send it: CloudWatch Logs (`cloudwatch`: the
    events' messages; `cloudwatch_lines`: the transcript's lines, from each JSON event's `sessionData` when the
    agent streamed them) and S3 (`s3`: the object's text)."""
    import json

    from ssmlab import inventory, transcript
    from ssmlab.aws import explained, get_or_none

    inputs = inventory.session_preferences(lab) or {}
    found: dict[str, Any] = {"log_group": inputs.get("cloudWatchLogGroupName") or None,
                             "bucket": inputs.get("s3BucketName") or None, "cloudwatch": [], "cloudwatch_lines": [], "s3": None}
    if found["log_group"]:
        with explained(f"reading the log stream {session_id}"):
            events = get_or_none(lab.client("logs").get_log_events, missing=("ResourceNotFoundException",),
                                 logGroupName=found["log_group"], logStreamName=session_id, startFromHead=True)
        found["cloudwatch"] = [e["message"] for e in (events or {}).get("events", [])]
        for message in found["cloudwatch"]:
            streamed = json.loads(message) if message.startswith('{"eventVersion"') else None
            found["cloudwatch_lines"] += streamed["sessionData"] if streamed else message.split("\n")
    if found["bucket"]:
        key = transcript.s3_key(inputs.get("s3KeyPrefix") or "", session_id)
        with explained(f"reading s3://{found['bucket']}/{key}"):
            body = get_or_none(lab.client("s3").get_object, missing=("NoSuchKey",), Bucket=found["bucket"], Key=key)
        found["s3"] = body["Body"].read().decode() if body else None
    return found


def transcript_holds(record_found: dict[str, Any], typed: Any, record_as: str | None = None) -> dict[str, bool]:
    """Whether each record (CloudWatch Logs, S3) holds every command typed in `typed` (`shell`'s result) and its
    answer. CloudWatch's streamed lines have their tabs made spaces (the agent's `buildEventInfo`), so tabs are
    compared as spaces everywhere."""
    shown = {"CloudWatch Logs": "\n".join(record_found["cloudwatch_lines"]),
             "S3": (record_found["s3"] or "").replace("\r\n", "\n")}
    holds = {where: all(f"{typed.prompt}{command}" in text.replace("\t", " ")
                        and output.strip().replace("\t", " ") in text.replace("\t", " ") for command, output, _ in typed)
             for where, text in shown.items()}
    print("every command typed, and its answer, is in the record:", holds)
    if record_as:
        record(record_as, {"cloudwatch_events": len(record_found["cloudwatch"]), "s3": bool(record_found["s3"]),
                           "logged": holds})
    return holds


def cleanup(lab: Lab) -> list:
    """`ssmlab cleanup` for the notebook's lab, printed as the command prints it (running the cell is the yes),
    with the plan shown first (and what it leaves, with why), a progress bar, one line per deletion, then the
    count and the audit; returns the outcomes."""
    from ssmlab import teardown

    report = teardown.cleanup(lab, yes=True, say=print, show_plan=True)
    return report.removals[0].outcomes or []


def restore_session_preferences(lab: Lab) -> list:
    """Put the region's Session Manager preferences back as they were before the lab (as cleanup does).

    The preferences document is region-wide: left pointing at this lab's log group and bucket, every
    other instance in the account and region would log there — or fail to start sessions when it
    cannot reach them. The lab's log group, bucket and endpoints stay.
    """
    from ssmlab import inventory, obstacles, teardown
    from ssmlab.locking import lab_lock
    from ssmlab.render import outcome_line

    with lab_lock(lab, "restore of the session preferences"):
        resources = inventory.lab_resources(lab)
        steps = [d for d in teardown.plan(resources) if d.kind in obstacles.PREFERENCE_KINDS]
        for note in obstacles.preferences_outlook(resources).notes:
            print(note)
        outcomes = teardown.execute(lab, steps, explain=print)
    for number, outcome in enumerate(outcomes, start=1):
        print(outcome_line(number, len(outcomes), outcome), "-", outcome.deletion.why)
    if not outcomes:
        print("nothing to restore: the preferences are not this lab's")
    return outcomes


def audit(lab: Lab, next_step: str) -> None:
    """The cleanup's checkpoint: nothing may carry the lab's tag any more (else raise, naming what is left)."""
    from ssmlab import teardown
    from ssmlab.render import audit_text

    left = teardown.audit(lab)
    print(audit_text(left))
    record("audit", [x.to_json() for x in left])
    if left:
        raise LabError(f"{len(left)} resource(s) of lab {lab.name} are left; run the cleanup cell again")
    print(f"\ncheckpoint passed: lab {lab.name} is gone.\nNext: {next_step}")


# -- recording values for the tests -----------------------------------------------------


def record(name: str, value: Any) -> None:
    """Record a JSON value under `name` in the notebook's outputs, for tests and `ssmlab run` to read.

    The learner sees nothing: the value travels under RECORD_MIME beside an empty text/plain. JupyterLab
    (4.6, checked in chromium) draws that empty text as nothing; the empty text is there for front ends
    that would otherwise say they have no renderer for RECORD_MIME (VS Code does)."""
    payload = {"name": name, "value": json.loads(json.dumps(value, default=str))}
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython ships with the kit
        return
    if get_ipython() is None:
        return
    display({RECORD_MIME: payload, "text/plain": ""}, raw=True)


def recorded(notebook: Any) -> dict[str, Any]:
    """Every value an executed notebook recorded, by name (the last one wins). `notebook`: a path or an nbformat node."""
    if not hasattr(notebook, "cells"):
        import nbformat

        notebook = nbformat.read(str(notebook), as_version=4)
    values: dict[str, Any] = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            payload = output.get("data", {}).get(RECORD_MIME)
            if payload:
                values[payload["name"]] = payload["value"]
    return values


def show_html(markup: str, text: str) -> None:
    """HTML in a notebook (the banner, an exercise's verdict); `text` anywhere else."""
    _show(lambda: {"text/html": markup, "text/plain": text}, text, raw=True)


def _show(shown: Any, text: str, *, raw: bool = False) -> None:
    """Display what `shown()` makes in a notebook; print `text` anywhere else (a script, the CLI)."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython ships with the kit
        print(text)
        return
    if get_ipython() is None:
        print(text)
        return
    display(shown(), raw=raw)
