"""`make soak`: the kit used roughly, over and over, on an emulator of its own — and the bounds it must keep.

What a learner, a class or a CI job does to a lab, with AWS misbehaving as it does:
- **cycles**: `ssmlab build`, `ssmlab doctor`, `ssmlab cleanup` as a learner runs them (the CLI,
  in processes of their own), while the emulator throttles or fails 10 % of the requests
  (seeded) and the network between them loses some answers after the emulator has acted
  (`tests/lossy_proxy.py`: what a blip looks like to botocore);
- **concurrent builds**: two builds of one lab at once (two terminals, a CI retry);
- **interrupted builds and cleanups**: stopped at a random moment (Ctrl-C or kill -9), then
  run again.

After each, with faults off, it reads the lab back: what exists twice (`status.duplicates`),
whether every step is complete, and after a cleanup what is left (`teardown.audit`). It prints
each figure against its bound with PASS or MISS and exits 1 on a MISS.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the lossy proxy is the tests' own tool

BIN = Path(sys.executable).parent
REGION = "ap-northeast-1"
CYCLES = int(os.environ.get("SOAK_CYCLES", "20"))
INTERRUPTED = int(os.environ.get("SOAK_INTERRUPTED", "10"))
CONCURRENT = int(os.environ.get("SOAK_CONCURRENT", "5"))
FAULTS = {"rate": 0.1, "seed": 13, "kinds": ["throttle", "unavailable"], "actions": None}
LOST_ANSWERS = 0.05  # share of answers to creating calls the network loses (after the emulator acted)
STEPS = ("network", "security-groups", "endpoints", "iam", "instance")


def cli(url: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "SSMLAB_EMULATOR_URL": url}
    return subprocess.run([str(BIN / "ssmlab"), *args, "--region", REGION], env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def observe(lab_name: str) -> tuple[int, bool]:
    """(how many parts exist twice, whether every build step is complete), read with faults off."""
    from ssmlab import inventory, status
    from ssmlab.lab import Lab

    state = inventory.snapshot(Lab(lab_name, REGION, "emulator"))
    steps = {s.step: s.status for s in status.lab_status(state)}
    return len(status.duplicates(state)), all(steps[s] == status.COMPLETE for s in STEPS)


def leftovers(lab_name: str) -> list:
    from ssmlab import teardown
    from ssmlab.lab import Lab

    return teardown.audit(Lab(lab_name, REGION, "emulator"))


class Faults:
    """Switch the emulator's fault injection on for the kit, off for the soak's own observations."""

    def __init__(self, url: str) -> None:
        from ssmlab.emulator import faults

        self.url, self.faults = url, faults
        self.on()

    def on(self) -> None:
        self.faults.apply(self.url, self.faults.FaultConfig.from_json(FAULTS))

    def off(self) -> None:
        self.faults.apply(self.url, self.faults.FaultConfig())


def cycles(url: str, lossy: str, faults: Faults, totals: dict) -> None:
    for n in range(CYCLES):
        lab = f"soak-{n}"
        faults.on()
        built = cli(lossy, "build", "--lab", lab)
        doctor = cli(lossy, "doctor", "--lab", lab)
        faults.off()
        twice, complete = observe(lab)
        faults.on()
        cleaned = cli(lossy, "cleanup", "--lab", lab)
        faults.off()
        left = leftovers(lab)
        ok = built.returncode == 0 and doctor.returncode == 0 and complete and cleaned.returncode == 0 \
            and not twice and not left
        totals["cycles"] += ok
        totals["duplicates"] += twice
        totals["leftovers"] += len(left)
        if not ok:
            for name, run in (("build", built), ("doctor", doctor), ("cleanup", cleaned)):
                if run.returncode:
                    print(f"  cycle {n}: {name} exited {run.returncode}: {(run.stderr or run.stdout).strip()[-300:]}")
            if left:
                print(f"  cycle {n}: left {[(x.kind, x.resource_id) for x in left]}")


def concurrent(url: str, totals: dict) -> None:
    for n in range(CONCURRENT):
        lab = f"soak-twice-{n}"
        env = {**os.environ, "SSMLAB_EMULATOR_URL": url}
        runs = [subprocess.Popen([str(BIN / "ssmlab"), "build", "--lab", lab, "--region", REGION], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
        codes = [run.wait(timeout=300) for run in runs]
        twice, complete = observe(lab)
        totals["duplicates"] += twice
        totals["concurrent"] += codes == [0, 0] and complete and not twice
        cli(url, "cleanup", "--lab", lab)
        totals["leftovers"] += len(leftovers(lab))


def interrupted(url: str, totals: dict, rng: random.Random) -> None:
    for n in range(INTERRUPTED):
        lab = f"soak-cut-{n}"
        how = (signal.SIGINT, signal.SIGKILL)[n % 2]  # Ctrl-C, or the terminal closed
        cut(url, ("build", "--lab", lab), rng.uniform(0.3, 3.0), how)
        again = cli(url, "build", "--lab", lab)
        twice, complete = observe(lab)
        totals["duplicates"] += twice
        totals["interrupted"] += again.returncode == 0 and complete and not twice
        cut(url, ("cleanup", "--lab", lab), rng.uniform(0.1, 1.5), how)  # its cleanup, interrupted too
        cleaned = cli(url, "cleanup", "--lab", lab)
        left = leftovers(lab)
        totals["leftovers"] += len(left)
        totals["cleanups"] += cleaned.returncode == 0 and not left


def cut(url: str, args: tuple[str, ...], after: float, how: signal.Signals) -> None:
    """Start `ssmlab ARGS` and stop it with `how` after `after` seconds (if it has not finished)."""
    env = {**os.environ, "SSMLAB_EMULATOR_URL": url}
    run = subprocess.Popen([str(BIN / "ssmlab"), *args, "--region", REGION], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(after)
    run.send_signal(how)
    run.wait(timeout=60)


def main() -> int:
    os.environ.setdefault("SSMLAB_STATE_DIR", tempfile.mkdtemp(prefix="ssmlab-soak-"))
    for key in [k for k in os.environ if k.startswith("AWS_")] + ["SSMLAB_EMULATOR_URL", "SSMLAB_TARGET"]:
        os.environ.pop(key, None)
    from lossy_proxy import LossyProxy

    from ssmlab import emulator

    totals = dict(cycles=0, duplicates=0, leftovers=0, concurrent=0, interrupted=0, cleanups=0)
    started = time.perf_counter()
    url = emulator.start().endpoint_url
    os.environ["SSMLAB_EMULATOR_URL"] = url  # the soak's own observations, in this process
    try:
        with LossyProxy(url) as proxy:
            proxy.lose(LOST_ANSWERS, prefixes=("Create", "Run", "Put", "Authorize", "Add"), seed=5)
            faults = Faults(url)
            cycles(url, proxy.url, faults, totals)
            faults.off()
            lost = sum(proxy.dropped.values())
        concurrent(url, totals)
        interrupted(url, totals, random.Random(11))
    finally:
        emulator.stop()
    seconds = time.perf_counter() - started
    rows = [
        (f"cycles at 10 % faults, {LOST_ANSWERS:.0%} answers lost ({lost} lost)", f"{totals['cycles']}/{CYCLES}",
         f"{CYCLES}/{CYCLES}", totals["cycles"] == CYCLES),
        ("concurrent builds of one lab, one lab", f"{totals['concurrent']}/{CONCURRENT}", f"{CONCURRENT}/{CONCURRENT}",
         totals["concurrent"] == CONCURRENT),
        ("interrupted builds converged", f"{totals['interrupted']}/{INTERRUPTED}", f"{INTERRUPTED}/{INTERRUPTED}",
         totals["interrupted"] == INTERRUPTED),
        ("interrupted cleanups finished", f"{totals['cleanups']}/{INTERRUPTED}", f"{INTERRUPTED}/{INTERRUPTED}",
         totals["cleanups"] == INTERRUPTED),
        ("duplicates", str(totals["duplicates"]), "0", totals["duplicates"] == 0),
        ("leftovers", str(totals["leftovers"]), "0", totals["leftovers"] == 0),
    ]
    for name, measured, bound, ok in rows:
        print(f"{'PASS' if ok else 'MISS'} {name:<58} {measured:>7}   bound {bound}", flush=True)
    print(f"\nsoak: {seconds:.0f} s")
    return 0 if all(ok for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
