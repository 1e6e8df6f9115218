"""Cost pictures, labelled in dollars: per option in one region, against the number of AZs or
VPCs, and across every region the price book knows.

Each `draw_*` function draws on a matplotlib Axes, so the CLI puts all three on one PNG
(`overview`) while a notebook shows them one by one (the `*_chart` functions return a Figure
that Jupyter displays inline). matplotlib is imported here only, when a picture is asked for.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ssmlab.cost import COMPONENTS, Estimate, Scenario, estimate
from ssmlab.figures import new_figure
from ssmlab.prices import PriceBook, PriceMissing

COLOURS = {  # one colour per billed component, the same in every chart
    "endpoint hours": "#1f77b4",
    "endpoint data": "#aec7e8",
    "NAT hours": "#d62728",
    "NAT data": "#ff9896",
    "public IPv4": "#9467bd",
}
OPTION_COLOURS = {"ssm": "#1f77b4", "ssm-ec2messages": "#17becf", "ssm-logging": "#2ca02c",
                  "ssm-logging-kms": "#98df8a", "ssm-shared": "#7f7f7f", "eice": "#ff7f0e", "nat": "#d62728"}
SHORT_TITLES = {"ssm": "Session Manager, 2 endpoints", "ssm-ec2messages": "Session Manager + ec2messages (3)",
                "ssm-logging": "Session Manager + logging (3)", "ssm-logging-kms": "Session Manager + logging, KMS (4)",
                "ssm-shared": "Session Manager, shared endpoints", "eice": "EC2 Instance Connect Endpoint",
                "nat": "NAT gateway"}


def _usd(value: float) -> str:
    return f"${value:,.2f}" if value < 1000 else f"${value:,.0f}"


def _axis_label(scenario: Scenario) -> str:
    return f"USD {scenario.period}"


# -- one region: cost per option -----------------------------------------------------------


def draw_options(ax: Any, result: Estimate) -> None:
    """Horizontal bars, one per option, stacked by what is billed, with the total at the end."""
    s = result.scenario
    options = list(reversed(result.options))  # matplotlib draws the first bar at the bottom
    labels = [SHORT_TITLES.get(o.key, o.title) for o in options]
    left = [0.0] * len(options)
    for component in COMPONENTS:
        values = [o.by_component()[component] for o in options]
        if any(values):
            ax.barh(labels, values, left=left, color=COLOURS[component], label=component, height=0.6)
            left = [a + b for a, b in zip(left, values)]
    top = max(left) if max(left) > 0 else 1.0
    for y, (option, total) in enumerate(zip(options, left)):
        text = "free" if total == 0 else _usd(total)
        if s.participants > 1 and total:
            text += f"  ({_usd(option.per_participant)} each)"
        ax.text(total + top * 0.01, y, text.replace("$", r"\$"), va="center", fontsize=9)  # "$" is mathtext
    ax.set_xlim(0, top * 1.35)
    ax.set_xlabel(_axis_label(s))
    who = f", {s.participants} participants" if s.participants > 1 else ""
    ax.set_title(f"{result.location} ({s.region}): {s.azs} AZ, {s.gb:g} GB {s.period}{who}", fontsize=11)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)


def options_chart(result: Estimate):
    figure = new_figure(figsize=(9, 4.2), layout="constrained")
    draw_options(figure.add_subplot(), result)
    figure.suptitle("Reaching a private instance: cost per option", fontsize=12)
    return figure


# -- one region: cost against the number of AZs or VPCs ---------------------------------------


SCALING = ("ssm", "ssm-ec2messages", "ssm-logging-kms", "nat", "eice")  # "+ logging (3)" would lie on "+ ec2messages"
SCALING_TITLES = {**SHORT_TITLES, "ssm-ec2messages": "Session Manager, 3 endpoints (+ ec2messages, or + logs)"}


def draw_scaling(ax: Any, book: PriceBook, scenario: Scenario, by: str = "azs", upto: int | None = None) -> None:
    """Each option's cost as the lab spreads over more AZs, or is repeated in more VPCs."""
    if by not in ("azs", "vpcs"):
        raise ValueError(f"by must be 'azs' or 'vpcs', not {by!r}")
    upto = upto or (6 if by == "azs" else 20)
    xs = list(range(1, upto + 1))
    keys = SCALING + (("ssm-shared",) if by == "vpcs" else ())
    series: dict[str, list[float]] = {k: [] for k in keys}
    for x in xs:
        changed = replace(scenario, azs=x) if by == "azs" else replace(scenario, participants=x)
        result = estimate(book, changed)
        for key in keys:
            option = next((o for o in result.options if o.key == key), None)
            # with one VPC, "shared" is simply the headline's endpoints
            series[key].append((option or result.option("ssm")).total)
    for key in keys:
        style = "--" if key == "ssm-shared" else "-"
        ax.plot(xs, series[key], style, marker="o", markersize=3, color=OPTION_COLOURS[key], label=SCALING_TITLES[key])
    ax.set_xlabel("Availability Zones (one subnet each)" if by == "azs" else "VPCs (one lab per participant)")
    ax.set_ylabel(_axis_label(scenario))
    ax.set_xticks(xs if len(xs) <= 12 else xs[::2])
    ax.yaxis.set_major_formatter(lambda value, _: f"${value:,.0f}")
    ax.set_title(f"{scenario.region}: cost as the lab grows ({'AZs' if by == 'azs' else 'VPCs'})", fontsize=11)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)


def scaling_chart(book: PriceBook, scenario: Scenario, by: str = "azs", upto: int | None = None):
    figure = new_figure(figsize=(8, 4.5), layout="constrained")
    draw_scaling(figure.add_subplot(), book, scenario, by, upto)
    return figure


# -- every region --------------------------------------------------------------------------


REGIONAL = ("ssm", "ssm-ec2messages", "nat")


def regional_costs(book: PriceBook, scenario: Scenario) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """Each priced region's cost per option (cheapest first), and the regions left out with why."""
    costs: dict[str, dict[str, float]] = {}
    left_out: dict[str, str] = {}
    for region in book.regions:
        try:
            result = estimate(book, replace(scenario, region=region))
        except PriceMissing as error:
            left_out[region] = str(error).split(":", 1)[0]
            continue
        costs[region] = {key: result.option(key).total for key in REGIONAL}
    ordered = dict(sorted(costs.items(), key=lambda item: (item[1]["ssm"], item[0])))
    return ordered, left_out


def draw_regions(ax: Any, book: PriceBook, scenario: Scenario) -> None:
    """Grouped bars per region: the two endpoints, three for old agents, a NAT gateway (EICE is free everywhere)."""
    costs, left_out = regional_costs(book, scenario)
    regions = list(costs)
    width = 0.27
    for index, key in enumerate(REGIONAL):
        xs = [i + (index - 1) * width for i in range(len(regions))]
        ax.bar(xs, [costs[r][key] for r in regions], width, color=OPTION_COLOURS[key], label=SHORT_TITLES[key])
    ax.set_xticks(range(len(regions)), regions, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(_axis_label(scenario))
    ax.yaxis.set_major_formatter(lambda value, _: f"${value:,.0f}")
    ax.set_title(f"Every region in the price book ({scenario.azs} AZ, {scenario.gb:g} GB {scenario.period}); "
                 "EC2 Instance Connect Endpoint: $0 everywhere", fontsize=11)
    ax.legend(fontsize=8, frameon=False, ncols=3, loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    if left_out:
        ax.annotate("left out, no verified figure: " + ", ".join(sorted(left_out)), xy=(0, -0.32),
                    xycoords="axes fraction", fontsize=7, color="#555555")


def regions_chart(book: PriceBook, scenario: Scenario):
    figure = new_figure(figsize=(10, 4.8), layout="constrained")
    draw_regions(figure.add_subplot(), book, scenario)
    return figure


# -- all three, for the command line ----------------------------------------------------------


def overview(book: PriceBook, result: Estimate):
    figure = new_figure(figsize=(11, 14), layout="constrained")
    top, middle, bottom = figure.subplots(3, 1, height_ratios=(1, 1, 1.1))
    draw_options(top, result)
    draw_scaling(middle, book, result.scenario, "azs")
    draw_regions(bottom, book, result.scenario)
    figure.suptitle(f"Session Manager's endpoints against EC2 Instance Connect Endpoint and a NAT gateway "
                    f"({result.scenario.period.replace('per ', 'a ')})\nprices: {result.price_source}", fontsize=12)
    return figure


FORMATS = (".png", ".svg", ".pdf")
"""What `save` writes, by the file's suffix: matplotlib's own PNG, SVG and PDF writers need nothing
else installed, and cover the screen, the web page and the printed handout."""


def save(figure: Any, path: str | Path) -> Path:
    """Write the figure in the format its suffix names (one of FORMATS) and return where.

    The folder must exist: `ssmlab cost --plot` checks the path and creates it first (ssmlab.paths)."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"cannot write {path}: expected a name ending in {', '.join(FORMATS)}")
    figure.savefig(path, format=path.suffix[1:].lower(), dpi=110)
    return path
