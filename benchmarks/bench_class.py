"""`make bench`'s class figures (issue 19): one emulator in class mode holding 30 participants who run the notebooks'
work at once, each notebook's time within 1.5x of a participant alone on the same emulator, and its memory.

A participant is a process of its own, as a learner's kernel is: `python bench_class.py --participant` with the
environment a JupyterHub gives a user's server (`classkeys.participant_environ`: its lab, its key pair derived
from the class secret, the shared emulator's URL). It imports what a notebook's first cell imports, says it is
ready, waits for the go, then does what notebooks 01-06 ask of the emulator, in four timed phases:
- build: `notebook.ensure(lab, until=step)` for each of the five steps and each notebook's checkpoint read
  (`inventory.snapshot` + `status.lab_status`), as notebooks 01-05 do one after the other;
- register: `notebook.wait_until_managed` (notebook 05: the clock moved on, DescribeInstanceInformation polled);
- doctor: `checkup` and its JSON, as `ssmlab doctor --lab NAME --json` (notebook 06);
- session: a Session Manager shell over the data channel typing notebook 06's commands (`notebook.shell`).
It prints its phases' wall times and its own CPU seconds as one JSON line.

The baseline is one participant alone (the median of `ALONE_RUNS`, after a warm-up participant: moto loads its
backends on first use); the measured figure is `participants` given the same go at once, judged by the slowest
("each notebook's time"), with the median and the 90th percentile shown. Imports happen before the go (a kernel's
start-up is not the emulator's doing); everything from `notebook.start` on is timed. The participants share this
machine's cores with the emulator: the CPU line says what that alone forces. A second, paced line (not the issue's
figure) gives as many more participants their go spread over `PACED_OVER` seconds, as a class following its
instructor does. The emulator and its temporary state directory are removed at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).parent))  # figures.py

from figures import report  # noqa: E402

PARTICIPANTS = 30
ALONE_RUNS = 3
PACED_OVER = 60.0  # the second, paced line: the go spread over this many seconds (0: no paced line)
BUDGET = 1.5  # the issue's: each participant's time within 1.5x of one participant alone
PHASES = ("build", "register", "doctor", "session")
BUILD_STEPS = ("network", "security-groups", "endpoints", "iam", "instance")  # notebooks 01-05, one each
SESSION_COMMANDS = (  # notebook 06's shell cell, without its 5-second curl time-out to the internet
    "hostname",
    "nslookup ssm.{region}.amazonaws.com",
    'TOKEN=$(curl -s -X PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 21600")',
    'curl -s -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/iam/security-credentials/',
)
READY, GO = "ready", "go"
TIMEOUT = 900.0  # one participant's whole run, at most (a crowd that hangs fails the line instead of the bench)


# -- the participant (its own process) ------------------------------------------------------------------------------


def _cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def participant_work() -> dict:
    """What notebooks 01-06 ask of the emulator, for the lab `$SSMLAB_LAB`; the wall seconds of each phase."""
    from ssmlab import inventory, notebook, status
    from ssmlab.checkup import checkup
    from ssmlab.settings import current

    seconds: dict[str, float] = {}
    started = mark = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        seconds[phase], mark = now - mark, now

    lab = notebook.start(current().lab)
    for step in BUILD_STEPS:
        results = notebook.ensure(lab, until=step, quiet=True)
        steps = status.lab_status(inventory.snapshot(lab))  # the notebook's checkpoint
    if any(s.status != status.COMPLETE for s in steps if s.step in BUILD_STEPS):
        raise SystemExit(f"lab {lab.name} not complete: {[(s.step, s.status) for s in steps]}")
    instance_id = results["instance"].instance_id
    lap("build")
    notebook.wait_until_managed(lab, instance_id)
    lap("register")
    diagnosis = checkup(lab, instance_id)[0]
    json.dumps(diagnosis.to_json())
    if not (diagnosis.ok and diagnosis.managed):
        raise SystemExit(f"doctor on {instance_id}: {diagnosis.codes('error')}")
    lap("doctor")
    typed = notebook.shell(lab, instance_id, [c.format(region=lab.region) for c in SESSION_COMMANDS])
    if [code for _, _, code in typed] != [0] * len(SESSION_COMMANDS):
        raise SystemExit(f"shell on {instance_id}: {[(c, o[:80], code) for c, o, code in typed]}")
    lap("session")
    seconds["total"] = time.perf_counter() - started
    return seconds


def _participant_main() -> int:
    """`--participant`: import, say ready, wait for the go, work (its prints kept off stdout), print the JSON."""
    import contextlib
    import io

    import boto3  # noqa: F401
    import websocket  # noqa: F401

    from ssmlab import build, checkup, inventory, notebook, status  # noqa: F401
    from ssmlab.session import client  # noqa: F401

    print(READY, flush=True)
    if sys.stdin.readline().strip() != GO:
        return 1
    cpu = _cpu()
    with contextlib.redirect_stdout(io.StringIO()):
        seconds = participant_work()
    print(json.dumps({"seconds": seconds, "cpu": _cpu() - cpu}), flush=True)
    return 0


# -- the class (this process) ---------------------------------------------------------------------------------------


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def class_emulator() -> Iterator[tuple[object, str, Path]]:
    """A fresh emulator in class mode (`$SSMLAB_CLASS_SECRET` in its environment), in a temporary state directory of
    its own; stopped, and the directory removed, afterwards. Yields (its status, the class secret, the directory)."""
    from ssmlab import classkeys, emulator, settings

    names = (settings.STATE_DIR_VAR, settings.EMULATOR_URL_VAR, classkeys.SECRET_VAR)
    saved = {name: os.environ.get(name) for name in names}
    folder = Path(tempfile.mkdtemp(prefix="ssmlab-bench-class-"))
    secret = classkeys.new_secret()
    os.environ.pop(settings.EMULATOR_URL_VAR, None)
    os.environ[settings.STATE_DIR_VAR] = str(folder)
    os.environ[classkeys.SECRET_VAR] = secret  # the emulator inherits it (process._spawn); this process signs nothing
    try:
        status = emulator.start()
        os.environ.pop(classkeys.SECRET_VAR)
        yield status, secret, folder
    finally:
        try:
            emulator.stop()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            shutil.rmtree(folder, ignore_errors=True)


def _environ(secret: str, user: str, url: str, folder: Path) -> dict[str, str]:
    """A participant's server's environment: this one without AWS or ssmlab settings, plus the hub's."""
    from ssmlab import classkeys, settings

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SSMLAB_", "JUPYTERHUB_"))}
    env.update(classkeys.participant_environ(secret, user, url))
    home = folder / "participants" / user
    home.mkdir(parents=True, exist_ok=True)
    env[settings.STATE_DIR_VAR] = str(home)  # each server has a home of its own (locks, no emulator state file)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_participants(users: list[str], secret: str, url: str, folder: Path, spread: float = 0.0) -> list[dict]:
    """Start one process per user, wait until every one is ready, then give them the go: all at once, or evenly
    over `spread` seconds in turn (the first at once, the last after `spread`); their results."""
    procs, logs = [], []
    for user in users:
        log = open(folder / f"{user}.stderr", "w+")
        logs.append(log)
        procs.append(subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--participant"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                                      env=_environ(secret, user, url, folder)))
    try:
        for user, proc in zip(users, procs):
            if proc.stdout.readline().strip() != READY:
                raise RuntimeError(f"participant {user} did not start: {_tail(folder / f'{user}.stderr')}")
        if spread <= 0:
            for proc in procs:
                proc.stdin.write(GO + "\n")
            for proc in procs:
                proc.stdin.flush()
        else:
            began = time.monotonic()
            for k, proc in enumerate(procs):
                time.sleep(max(0.0, began + spread * k / max(1, len(procs) - 1) - time.monotonic()))
                proc.stdin.write(GO + "\n")
                proc.stdin.flush()
        results = []
        deadline = time.monotonic() + TIMEOUT
        for user, proc in zip(users, procs):
            out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            if proc.returncode != 0:
                raise RuntimeError(f"participant {user} failed ({proc.returncode}): {_tail(folder / f'{user}.stderr')}")
            results.append({"user": user, **json.loads(out.strip().splitlines()[-1])})
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()


def _tail(path: Path, lines: int = 12) -> str:
    try:
        return "\n".join(path.read_text().splitlines()[-lines:])
    except OSError:
        return "(no output)"


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else values[0]


def _phases(results: list[dict], pick) -> str:
    return ", ".join(f"{p} {pick([r['seconds'][p] for r in results]):.1f}" for p in PHASES)


def _line(name: str, results: list[dict], base: float) -> float:
    """Report the participants' times against `base`, judged by the slowest; returns the ratio of the median."""
    totals = sorted(r["seconds"]["total"] for r in results)
    p50, p90, slowest = statistics.median(totals), _p90(totals), totals[-1]
    report(name, f"p50 {p50:.1f} s, p90 {p90:.1f} s, max {slowest:.1f} s", f"{base:.1f} s (alone)",
           f"x{p50 / base:.2f} p50, x{p90 / base:.2f} p90, x{slowest / base:.2f} max; budget max <= x{BUDGET:.2f}",
           slowest <= BUDGET * base)
    return p50 / base


def bench_class(participants: int = PARTICIPANTS, paced: float = PACED_OVER) -> None:
    """`participants` learners at once on one emulator in class mode: each one's notebook work within 1.5x of a
    participant alone (judged by the slowest participant: "each notebook's time"), and the emulator's memory once
    their labs are built. Baseline: one participant alone on the same fresh emulator, median of ALONE_RUNS.
    With `paced` > 0, a second line: as many more participants, their go spread evenly over `paced` seconds (a
    class following its instructor), after the at-once run, on the same emulator."""
    with class_emulator() as (status, secret, folder):
        from ssmlab.emulator import state

        url, pid = str(status.endpoint_url), int(status.pid)
        mode = "" if (state.read_state() or {}).get("class") else " (class mode off: no SigV4 check)"
        run_participants(["warm-up"], secret, url, folder)  # moto loads each backend on its first use
        alone, alone_cpu = [], []
        for k in range(ALONE_RUNS):
            before = _proc_cpu(pid)
            alone += run_participants([f"alone-{k + 1}"], secret, url, folder)
            alone_cpu.append(_proc_cpu(pid) - before)
        cpu_before, started = _proc_cpu(pid), time.perf_counter()
        crowd = run_participants([f"learner-{k:02d}" for k in range(participants)], secret, url, folder)
        crowd_wall, crowd_cpu = time.perf_counter() - started, _proc_cpu(pid) - cpu_before
        rss = _proc_rss_mb(pid)
        if paced > 0:
            spread = run_participants([f"paced-{k:02d}" for k in range(participants)], secret, url, folder, paced)
            paced_rss = _proc_rss_mb(pid)
    base = statistics.median(r["seconds"]["total"] for r in alone)
    _line(f"class: {participants} participants at once{mode}", crowd, base)
    print(f"     phases (s) alone, median: {_phases(alone, statistics.median)}; at once, p50: "
          f"{_phases(crowd, statistics.median)}; p90: {_phases(crowd, _p90)}", flush=True)
    client_cpu, cores = sum(r["cpu"] for r in crowd), os.cpu_count() or 1
    machine, gil = (crowd_cpu + client_cpu) / cores, crowd_cpu  # what the CPU work alone forces, at the least
    print(f"     CPU (s): emulator {statistics.median(alone_cpu):.2f} per participant alone, {crowd_cpu:.1f} for the "
          f"{participants} at once, the participants' own {client_cpu:.1f}; floors: all of it on {cores} cores "
          f"{machine:.1f} (x{machine / base:.1f}), the emulator's on its one core (one GIL) {gil:.1f} "
          f"(x{gil / base:.1f}); "
          f"all {participants} done {crowd_wall:.1f} s after their processes were started", flush=True)
    labs = 1 + ALONE_RUNS + participants
    report(f"class: emulator memory, {labs} labs", f"{rss:.0f} MB", "-", "budget <= 400 MB (50 labs)", rss <= 400)
    if paced > 0:
        _line(f"class, paced: {participants} over {paced:.0f} s", spread, base)
        print(f"     (not the issue's figure: the go given every {paced / max(1, participants - 1):.1f} s, as a class "
              f"following its instructor; phases p90: {_phases(spread, _p90)}; memory then {paced_rss:.0f} MB, "
              f"{labs + participants} labs)", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--participant"]:
        sys.exit(_participant_main())
    bench_class(*(float(a) if i else int(a) for i, a in enumerate(sys.argv[1:3])))
