"""`ssmlab class status`: every lab in the region read for its facilitator, one row each (`classroom`).

Each lab is found by its tag (`inventory.find_labs`), diagnosed by the doctor (`checkup`, whose snapshot and node
facts the row is made from: no second read), its hourly cost priced from the
kit's price snapshot; on the emulator, each lab's last change comes from the call log (one read for all labs).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any, Callable

from ssmlab import classroom, cost, inventory
from ssmlab.aws import together
from ssmlab.checkup import checkup
from ssmlab.lab import LAB_NAME_RE, Lab
from ssmlab.prices import PriceBook, PriceMissing, UnknownRegion


def read(lab: Lab, *, calls: Callable[[], list[dict[str, Any]]] | None = None
         ) -> tuple[list[classroom.Participant], dt.datetime]:
    """One row per lab in `lab`'s region (whose name is only a client's), in name order; and when it was read.
    `calls`: the emulator's call log, for a caller inside the emulator (its dashboard), instead of reading all of
    it over HTTP."""
    now = dt.datetime.now(dt.timezone.utc)
    # A tag value that is no lab name (tagged by hand) is no participant's lab, and Lab() would refuse it.
    names = sorted(found.name for found in inventory.find_labs(lab) if LAB_NAME_RE.fullmatch(found.name))
    seen = _last_calls(lab, calls) if lab.is_emulator else {}
    book = PriceBook.offline()

    def row(name: str) -> classroom.Participant:
        one = replace(lab, name=name)
        diagnoses = checkup(one)  # each with the snapshot it judged and the node as Systems Manager sees it
        state = next(d.state for d in diagnoses if d.state is not None)
        ping = next((d.node.ping_status for d in diagnoses if d.node and d.node.ping_status), None)
        return classroom.participant(state, diagnoses, ping, _hourly(state, book, now), seen.get(name))

    return list(together(*[lambda name=name: row(name) for name in names])) if names else [], now


def _hourly(state: Any, book: PriceBook, now: dt.datetime) -> float:
    try:
        return cost.lab_cost(state, book, now).hourly
    except (PriceMissing, UnknownRegion):  # a region the snapshot cannot price: the row says 0, the rest stands
        return 0.0


READS = ("Describe", "Get", "List")  # actions that change nothing: the facilitator's own reads are among them


def _last_calls(lab: Lab, calls: Callable[[], list[dict[str, Any]]] | None = None) -> dict[str, dt.datetime]:
    """Each lab's last call that changed something (a build, a session, a fix): reads are left out, so this
    report's own reads (and an earlier report's) never count as a participant's activity."""
    from ssmlab.emulator import control

    last: dict[str, dt.datetime] = {}
    for call in calls() if calls else control.calls(lab, all_labs=True).get("calls", []):
        if call.get("lab") and call.get("time") and not str(call.get("action", "")).startswith(READS):
            when = dt.datetime.fromisoformat(str(call["time"]).replace("Z", "+00:00"))
            last[call["lab"]] = max(last.get(call["lab"], when), when)
    return last
