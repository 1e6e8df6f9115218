"""The benchmarks' figures, one line each as it is measured, kept for `bench.main`'s summary (shared by
`bench.py` and `bench_sessions.py`, so that both report to the same list when `bench.py` runs as a script)."""

from __future__ import annotations

RESULTS: list[tuple[str, str, str, str, bool]] = []


def report(name: str, measured: str, baseline: str, ratio: str, ok: bool) -> None:
    RESULTS.append((name, measured, baseline, ratio, ok))
    print(f"{'PASS' if ok else 'MISS'} {name:<38} {measured:>16}   baseline {baseline:>16}   {ratio}", flush=True)
