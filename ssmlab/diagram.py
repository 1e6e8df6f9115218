"""Pictures of the lab: its architecture from live state, the agent's polling, the two ways in.

- `architecture(state, findings)`: drawn from an inventory snapshot, so it grows notebook by
  notebook; the agent's connections to each endpoint carry the calls that travel over them,
  and a hop a doctor finding breaks is red and dashed with the finding's code on it.
- `polling_timeline(agent_log)`: the emulator's simulated agent over simulated time, to
  show why a node becomes Online only after a while.
- `connection_paths()`: EC2 Instance Connect Endpoint's path beside Session Manager's.

`diagrams` and matplotlib are imported inside the functions: the CLI must start in under a
second (DESIGN.md, budgets). Graphviz's `dot` binary draws the architecture pictures; without
it the error is one line with the install command (FACTS.md: the PyPI `graphviz` package is
only bindings).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable

from ssmlab.diagram_scene import Cluster, Edge, Node, Scene, scene
from ssmlab.diagram_timeline import polling_timeline
from ssmlab.errors import SsmlabError

__all__ = ["DotMissing", "architecture", "connection_paths", "polling_timeline", "scene"]

INSTALL = ("sudo apt-get install -y graphviz (Debian/Ubuntu), brew install graphviz (macOS) "
           "or conda install -c conda-forge graphviz")
BROKEN = "#D13212"  # red: a hop a finding breaks
NORMAL = "#545B64"
FONT = "Sans-Serif"
# Pixels per inch of the PNGs. Nearly all of `dot`'s time on these pictures is encoding the PNG, in
# proportion to its pixels (the layout takes ~0.03 s): at Graphviz's default 96 dpi the troubleshooting
# pictures are 3600 x 1900 pixels and take ~0.3 s each; at 72 (one pixel per point) 2700 x 1450 and
# ~0.12 s. A notebook shows them scaled to its width either way; at full size the text is 11-13 px.
DPI = "72"
CLUSTER_STYLE = {  # AWS architecture-icon group colours (AWS Cloud, VPC, subnets); SGs dashed grey
    "cloud": {"pencolor": "#232F3E", "bgcolor": "#FFFFFF", "penwidth": "1.5", "fontsize": "15"},
    "vpc": {"pencolor": "#8C4FFF", "bgcolor": "#F7F3FF", "penwidth": "1.5", "fontsize": "14"},
    "subnet": {"pencolor": "#00A4A6", "bgcolor": "#EEF8F8", "penwidth": "1.2", "fontsize": "13"},
    "sg": {"pencolor": "#7D8998", "bgcolor": "#FFFFFF", "style": "dashed,rounded", "fontsize": "12"},
    "row": {"pencolor": "#AEB6BE", "bgcolor": "#FBFBFB", "fontsize": "15"},
}


class DotMissing(SsmlabError):
    """Graphviz's `dot` program is not installed: the message is one line with the command to install it."""


def _require_dot() -> None:
    if shutil.which("dot") is None:
        raise DotMissing(f"Graphviz's `dot` program is not on PATH, and diagrams need it; install it: {INSTALL}")


def _icon(kind: str) -> Any:
    """The `diagrams` class for a kind of node (imported late: it is slow to import)."""
    from diagrams.aws import compute, general, management, network, security, storage

    return {
        "instance": compute.EC2Instance, "role": security.IAMRole, "endpoint": network.Endpoint,
        "ssm": management.SystemsManager, "user": general.User, "igw": network.InternetGateway,
        "nat": network.NATGateway, "gateway": network.Endpoint, "s3": storage.S3,
        "logs": management.CloudwatchLogs, "kms": security.KMS, "vpc": network.VPC,
        "subnet": network.PrivateSubnet, "eice": network.Endpoint, "eic": compute.EC2,
        "service": general.General, "users": general.Users,
    }.get(kind)


def _out_path(filename: str | os.PathLike, outformat: str) -> Path:
    """diagrams' convention: the name without extension; tolerate one given with it."""
    path = Path(filename)
    if path.suffix.lower() == f".{outformat.lower()}":
        path = path.with_suffix("")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _render(name: str, filename: str | os.PathLike, outformat: str, draw: Callable[[], None],
            graph_attr: dict[str, str] | None = None) -> Path:
    """Render with `diagrams` (show=False: never call a viewer) and return the written file."""
    _require_dot()
    from diagrams import Diagram
    from graphviz.backend import ExecutableNotFound

    path = _out_path(filename, outformat)
    attrs = {"dpi": DPI, "pad": "0.6", "splines": "spline", "nodesep": "0.5", "ranksep": "0.9", "fontsize": "18",
             "labelloc": "t", "fontname": FONT, "newrank": "true", **(graph_attr or {})}
    try:
        with Diagram(name, filename=str(path), outformat=outformat, show=False, direction="LR",
                     curvestyle="curved", graph_attr=attrs,
                     edge_attr={"fontname": FONT, "fontsize": "11", "color": NORMAL, "fontcolor": "#2D3436"}):
            draw()
    except ExecutableNotFound:  # `dot` vanished between the check and the render
        raise DotMissing(f"Graphviz's `dot` program could not be run; install it: {INSTALL}") from None
    return path.with_name(f"{path.name}.{outformat}")


def _wrap(label: str, width: int = 24) -> str:
    """Icon nodes are fixed-size and dot does not make room for a wider label: keep lines short
    (long IAM names break after a hyphen)."""
    import textwrap

    return "\n".join(part for line in label.split("\n")
                     for part in (textwrap.wrap(line, width, break_on_hyphens=True) or [""]))


def _draw_scene(drawn: Scene) -> None:
    from diagrams import Cluster as DCluster
    from diagrams import Edge as DEdge

    made: dict[str, Any] = {}

    def node(n: Node) -> None:
        attrs: dict[str, str] = {"fontsize": "12"}
        icon = _icon(n.kind)
        label = _wrap(n.label)
        if n.broken:
            label = f"{label}\n{' · '.join(n.broken)}"
            attrs["fontcolor"] = BROKEN
        if n.kind == "missing" or icon is None:
            lines = label.count("\n") + 1
            attrs.update(shape="box", style="dashed,rounded" if n.kind == "missing" else "rounded",
                         color=BROKEN if n.kind == "missing" else NORMAL, penwidth="2", labelloc="c",
                         width="1.9", height=str(0.35 + 0.22 * lines), fontcolor=BROKEN if n.kind == "missing" else "#2D3436")
            from diagrams import Node as DNode

            made[n.id] = DNode(label, nodeid=n.id, **attrs)
        else:
            made[n.id] = icon(label, nodeid=n.id, **attrs)  # diagrams sizes it: 0.4" more per extra line

    def cluster(c: Cluster) -> None:
        style = dict(CLUSTER_STYLE.get(c.kind, {}))
        label = c.label
        if c.broken:
            label = f"{label} · {' · '.join(c.broken)}"
            style["fontcolor"] = BROKEN
        with DCluster(label, graph_attr={"fontname": FONT, "margin": "14", **style}):
            for n in c.nodes:
                node(n)
            for inner in c.clusters:
                cluster(inner)

    for n in drawn.outside:
        node(n)
    for c in drawn.clusters:
        cluster(c)
    for e in drawn.edges:
        if e.source not in made or e.target not in made:
            continue
        # leave east, arrive west: arrows meet the icons, not the labels under them
        attrs: dict[str, str] = {"penwidth": "1.6", "tailport": "e", "headport": "w"}
        label = e.label
        if e.invisible:
            attrs["style"] = "invis"
        elif e.broken:
            label = f"{' · '.join(e.broken)}\n{label}"
            attrs.update(color=BROKEN, style="dashed", fontcolor=BROKEN, penwidth="2.2")
        # dot ranks by the edge's tail, so a "back" edge keeps its source on the left
        made[e.source] - DEdge(label=label, forward=not e.back, reverse=e.back, **attrs) - made[e.target]


def architecture(state: Any, findings: Any = (), *, filename: str | os.PathLike = "architecture",
                 outformat: str = "png", title: str | None = None, instance_id: str | None = None) -> Path:
    """Draw the lab as it is now (an `inventory.snapshot`), with the hops `findings` break.

    `findings`: doctor Findings, their JSON, or a Diagnosis. Returns the written file
    (`filename` plus the extension of `outformat`: png, svg, pdf, jpg or dot)."""
    drawn = scene(state, findings, title=title, instance_id=instance_id)
    label = drawn.title
    if drawn.caption:
        label += "\nalso found: " + ", ".join(drawn.caption)
    return _render(label, filename, outformat, lambda: _draw_scene(drawn))


def connection_paths(*, filename: str | os.PathLike = "connection_paths", outformat: str = "png") -> Path:
    """Session Manager's path beside EC2 Instance Connect Endpoint's, for the cost notebook.

    Facts (FACTS.md): Session Manager needs the agent to dial out to two interface endpoints
    (billed per AZ-hour and per GB) and no inbound rule; EC2 Instance Connect Endpoint has no
    extra charge, carries SSH/RDP into the instance (its SG must allow 22/3389 from the
    endpoint), at most 20 connections of one hour each, and no session transcript."""
    ssm_row = _path_row("ssm", "Session Manager: the agent dials out; no inbound rule, no SSH key",
                        user="console Connect\nor aws ssm start-session",
                        service=("ssm", "AWS Systems Manager\n(Session Manager)"),
                        endpoint=("endpoint", "interface endpoints\nssm · ssmmessages"),
                        instance="instance\nSSM Agent")
    eic_row = _path_row("eic", "EC2 Instance Connect Endpoint: SSH/RDP in; no agent, no endpoints to pay for",
                        user="aws ec2-instance-connect\nssh / open-tunnel",
                        service=("eic", "EC2 Instance Connect\n(IAM-signed tunnel)"),
                        endpoint=("eice", "EC2 Instance Connect\nEndpoint (one per VPC)"),
                        instance="instance\nsshd / RDP")
    # In a left-to-right layout dot puts the first of a rank at the bottom: Session Manager on top.
    drawn = Scene("Two ways into a private instance", clusters=[eic_row, ssm_row], edges=[
        Edge("ssm_user", "ssm_service", "StartSession\nHTTPS 443"),
        Edge("ssm_service", "ssm_endpoint", "PrivateLink"),
        Edge("ssm_endpoint", "ssm_instance", "the agent dials out\nHTTPS 443 (WebSocket)\n$ per endpoint·AZ·hour + GB",
             back=True),
        Edge("eic_user", "eic_service", "OpenTunnel\nHTTPS 443 (WebSocket)"),
        Edge("eic_service", "eic_endpoint", "no extra charge"),
        Edge("eic_endpoint", "eic_instance", "SSH 22 / RDP 3389\nallowed from the endpoint's SG\n20 connections, 1 h each"),
    ])
    return _render(drawn.title, filename, outformat, lambda: _draw_scene(drawn))


def _path_row(prefix: str, title: str, *, user: str, service: tuple[str, str], endpoint: tuple[str, str],
              instance: str) -> Cluster:
    """One way in, left to right: the person, the AWS service, the endpoint in the VPC, the instance."""
    vpc = Cluster(f"{prefix}_vpc", "vpc", "VPC · private subnet", nodes=[
        Node(f"{prefix}_endpoint", endpoint[0], endpoint[1]), Node(f"{prefix}_instance", "instance", instance)])
    cloud = Cluster(f"{prefix}_cloud", "cloud", "AWS Cloud", nodes=[Node(f"{prefix}_service", service[0], service[1])], clusters=[vpc])
    return Cluster(f"row_{prefix}", "row", title, nodes=[Node(f"{prefix}_user", "user", user)], clusters=[cloud])
