"""Where the kit acts, said before it acts: the embedded emulator, or which real AWS account (and what it costs).

One banner for every front end, so a terminal and a notebook never disagree about the target: `ssmlab
build`, `status`, `cleanup` and `run` print `line`; a notebook shows `html` (on target aws the cost banner
of DESIGN.md's notebook conventions), or `text` where there is no HTML.
"""

from __future__ import annotations

import html as markup


def line(lab, what: str | None = None) -> str:
    """One line: the lab (or `what`: "every lab"), its region and the target; on target aws the account, asked of
    STS (so an expired login stops here, explained, before anything is created)."""
    what = what or f"lab {lab.name}"
    if lab.is_emulator:
        return f"{what} in {lab.region} on the embedded emulator ({lab.endpoint_url})"
    return f"{what} in {lab.region} on REAL AWS account {_account(lab)}: resources created here are billed"


def text(lab) -> str:
    """`line` and what it means for the bill: nothing on the emulator, the hourly estimate on target aws."""
    if lab.is_emulator:
        return f"{line(lab)}: offline, nothing is billed"
    return f"{line(lab)}. {hourly_cost_statement(lab)}"


def html(lab) -> str:
    """An info box on the emulator; on target aws the cost banner (`alert-warning`)."""
    name, region = markup.escape(lab.name), markup.escape(lab.region)
    if lab.is_emulator:
        return (f'<div class="alert alert-info"><b>Target: the embedded emulator</b> at '
                f"<code>{markup.escape(str(lab.endpoint_url))}</code> — lab <code>{name}</code> in "
                f"<code>{region}</code>. Offline: nothing is created in AWS, nothing is billed. "
                'To use a real account, set <code>target = "aws"</code> in the parameters cell.</div>')
    return (f'<div class="alert alert-warning"><b>Target: REAL AWS</b> — account <code>{markup.escape(_account(lab))}</code>, '
            f"region <code>{region}</code>, lab <code>{name}</code>. "
            f"Resources created here are billed while they exist. {markup.escape(hourly_cost_statement(lab))} "
            f"Run <code>11_cleanup</code> (or <code>ssmlab cleanup --lab {name} --target aws --region {region}</code>) "
            "when you are done.</div>")


def hourly_cost_statement(lab, *, azs: int = 1, endpoints: int | None = None) -> str:
    """The cost banner's estimate: the lab's interface endpoints per hour and per month, from the price
    snapshot (what `ssmlab build --target aws` prints before it creates anything). `endpoints`: how many;
    by default as many as the build creates (imported here: the steps load botocore, which the emulator's
    notebooks need not pay for at import)."""
    from ssmlab.prices import PriceBook
    from ssmlab.render import hourly_cost_line

    if endpoints is None:
        from ssmlab.steps.endpoints import services_for

        endpoints = len(services_for())
    return "Estimate: " + hourly_cost_line(PriceBook.offline(), lab.region, azs=azs, endpoints=endpoints).removeprefix("cost: ")


def _account(lab) -> str:
    from ssmlab.aws import explained

    with explained("asking AWS who you are (sts:GetCallerIdentity)"):
        return lab.account_id
