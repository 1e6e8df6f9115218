"""What the architecture picture shows, as plain data: pure over a LabState and doctor findings.

`diagram.py` turns a Scene into a Graphviz picture with the `diagrams` package; keeping the
decisions here (what exists, which hop a finding breaks) makes them testable without
Graphviz and keeps `import ssmlab.diagram` cheap.

A finding breaks the hop its code names (codes: ssmlab.doctor; hops: ssmlab.netpath):
- network codes (SG, NACL, VPC DNS) break agent → endpoint, for the finding's `services`,
  else for every endpoint it concerns;
- ENDPOINT_PRIVATE_DNS_DISABLED / ENDPOINT_NOT_AVAILABLE break agent → that endpoint;
- ENDPOINT_MISSING (and EC2MESSAGES_ENDPOINT_NEEDED as an error) draws the absent endpoint;
- credentials (IMDS, profile, trust) break role → instance: the agent has nothing to sign with;
- ROLE_MISSING_SSM_PERMISSIONS breaks endpoint → service: the call arrives and is refused;
- the rest (NOT_MANAGED, CONNECTION_LOST, ...) go in the caption; info findings are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from ssmlab import hostpath, netpath
from ssmlab.diagram_breaks import AGENT_SERVICES, Breaks, breaks, interface_endpoints
from ssmlab.model import Instance, LabState, VpcEndpoint

# What travels over each connection the agent opens (FACTS.md: AmazonSSMManagedInstanceCore;
# the control and data channels are WebSockets over HTTPS).
CALLS = {
    "ssm": "HTTPS 443\nUpdateInstanceInformation",
    "ssmmessages": "HTTPS 443 (WebSocket)\ncontrol + data channels",
    "ec2messages": "HTTPS 443\nGetMessages",
    "logs": "HTTPS 443\nsession logs",
    "kms": "HTTPS 443\nsession encryption",
    "s3": "HTTPS 443\nlogs, updates, packages",
    "sts": "HTTPS 443\ncredentials",
}
SERVICE_NODES = {  # service -> (node id, kind, label)
    "ssm": ("svc_ssm", "ssm", "AWS Systems Manager\nssm · ssmmessages"),
    "ssmmessages": ("svc_ssm", "ssm", ""),
    "ec2messages": ("svc_ssm", "ssm", ""),
    "logs": ("svc_logs", "logs", "CloudWatch Logs"),
    "s3": ("svc_s3", "s3", "Amazon S3"),
    "kms": ("svc_kms", "kms", "AWS KMS"),
}


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # the icon: instance, role, endpoint, ssm, user, igw, nat, s3, logs, kms, vpc, subnet, missing
    label: str
    broken: tuple[str, ...] = ()  # doctor codes drawn on the node itself


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    broken: tuple[str, ...] = ()  # doctor codes: drawn red and dashed, the codes on the label
    back: bool = False  # the arrow points at `source` (keeps the left-to-right order of the ranks)
    invisible: bool = False  # layout only: keeps the service right of the VPC before any path exists


@dataclass
class Cluster:
    id: str
    kind: str  # cloud, vpc, subnet, sg
    label: str
    nodes: list[Node] = field(default_factory=list)
    clusters: list["Cluster"] = field(default_factory=list)
    broken: tuple[str, ...] = ()

    def all_nodes(self) -> Iterable[Node]:
        yield from self.nodes
        for c in self.clusters:
            yield from c.all_nodes()


@dataclass
class Scene:
    title: str
    outside: list[Node] = field(default_factory=list)  # nodes outside every cluster (the user)
    clusters: list[Cluster] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    caption: list[str] = field(default_factory=list)  # findings not drawn on a hop

    def node(self, node_id: str) -> Node | None:
        every = list(self.outside) + [n for c in self.clusters for n in c.all_nodes()]
        return next((n for n in every if n.id == node_id), None)

    def edge(self, source: str, target: str) -> Edge | None:
        return next((e for e in self.edges if (e.source, e.target) == (source, target)), None)


# -- the scene ------------------------------------------------------------------------------------


def _on_off(flag: bool) -> str:
    return "on" if flag else "OFF"


def _short(resource_id: str, keep: int = 8) -> str:
    """sg-0123456789abcdef0 -> sg-01234567…: ids stay recognisable and labels stay narrow."""
    prefix, _, rest = resource_id.partition("-")
    return resource_id if len(rest) <= keep + 1 else f"{prefix}-{rest[:keep]}…"


def _sg_label(state: LabState, group_ids: tuple[str, ...], what: str) -> str:
    names = []
    for gid in group_ids:
        group = state.security_group(gid)
        names.append(f"{_short(gid)} ({group.name})" if group and group.name != gid else _short(gid))
    return f"{what} security group {', '.join(names) or 'none'}"


def _rule_summary(state: LabState, group_ids: tuple[str, ...], direction: str) -> str:
    """443 rules at a glance: 'in 443 from 10.0.0.0/16' (or 'no 443 rule')."""
    sources = []
    for gid in group_ids:
        group = state.security_group(gid)
        for rule in (group.ingress if direction == "in" else group.egress) if group else ():
            covers = rule.protocol == "-1" or (rule.port_from is not None and rule.port_from <= 443 <= (rule.port_to or 0))
            if covers:
                sources.append(rule.cidr or rule.prefix_list_id or rule.source_group_id or "no source")
    word = "from" if direction == "in" else "to"
    return f"{direction} 443 {word} {', '.join(dict.fromkeys(sources))}" if sources else f"no {direction}bound 443 rule"


def _focus(state: LabState, instance_id: str | None) -> Instance | None:
    if instance_id:
        return state.instance(instance_id)
    running = [i for i in state.instances if i.state == "running"]
    return (running or list(state.instances) or [None])[0]


def _gateways(state: LabState, vpc_id: str) -> tuple[str | None, str | None]:
    """The internet and NAT gateways the VPC's route tables send traffic to."""
    targets = [r.target for t in state.route_tables if t.vpc_id == vpc_id for r in t.routes]
    igw = next((t for t in targets if t.startswith("igw-")), None)
    nat = next((t for t in targets if t.startswith("nat-")), None)
    return igw, nat


def scene(state: LabState, findings: Any = (), *, title: str | None = None, instance_id: str | None = None) -> Scene:
    """The picture of what exists now, and of the agent's path with the hops the findings break."""
    instance = _focus(state, instance_id)
    vpc = state.vpc(instance.vpc_id) if instance and instance.vpc_id else (state.vpcs[0] if state.vpcs else None)
    found = breaks(state, findings, instance)
    lab = f"lab {state.lab}" if state.lab else (vpc.vpc_id if vpc else "the lab")
    drawn = Scene(title or f"{lab} in {state.region}: what exists, and the SSM Agent's path")
    drawn.caption = found.caption

    cloud = Cluster("cloud", "cloud", f"AWS Cloud · {state.region}")
    drawn.clusters.append(cloud)
    services_used: dict[str, Node] = {}

    def service_node(service: str) -> str:
        node_id, kind, label = SERVICE_NODES.get(service, (f"svc_{service}", "service", service))
        if node_id not in services_used:
            services_used[node_id] = Node(node_id, kind, label or SERVICE_NODES["ssm"][2])
        return node_id

    # IAM: global, outside the VPC; drawn only when the instance (or the lab) has it.
    role_node = None
    profile = state.profile(instance.profile_arn) if instance else None
    if profile is None and len(state.instance_profiles) == 1 and instance is None:
        profile = state.instance_profiles[0]
    if profile is not None:
        role_names = ", ".join(profile.role_names) or "no role"
        role_node = Node("role", "role", f"IAM role {role_names}\nin instance profile\n{profile.name}")
    elif instance is not None and found.credentials:
        role_node = Node("role", "missing", "no instance profile", tuple(found.credentials))
    if role_node is not None:
        cloud.nodes.append(role_node)

    endpoints = interface_endpoints(state, vpc.vpc_id if vpc else None)
    gateway_endpoints = [e for e in state.endpoints if e.endpoint_type.lower() == "gateway" and vpc and e.vpc_id == vpc.vpc_id]
    if vpc is not None:
        dns = f"DNS support {_on_off(vpc.dns_support)} · hostnames {_on_off(vpc.dns_hostnames)}"
        vpc_cluster = Cluster("vpc", "vpc", f"VPC {vpc.vpc_id} · {vpc.cidr} · {dns}", broken=tuple(found.vpc))
        cloud.clusters.append(vpc_cluster)
        subnets = [s for s in state.subnets if s.vpc_id == vpc.vpc_id]
        hosts = _hosts_behind(state, instance) if instance is not None else []
        endpoint_subnets = {s for e in endpoints for s in e.subnet_ids}
        home = instance.subnet_id if instance else (subnets[0].subnet_id if subnets else None)
        endpoints_at_home = bool(endpoints) and endpoint_subnets <= {home}
        for subnet in subnets:
            public = subnet.map_public_ip or _routes_to_igw(state, subnet.subnet_id)
            kind = "public" if public else "private"
            sub = Cluster(f"subnet_{subnet.subnet_id}", "subnet", f"{kind} subnet {subnet.subnet_id} · {subnet.cidr} · {subnet.az}")
            vpc_cluster.clusters.append(sub)
            if instance is not None and subnet.subnet_id == instance.subnet_id:
                sub.clusters.append(_instance_cluster(state, instance, found))
            for host, ports in hosts:
                if host.subnet_id == subnet.subnet_id:
                    sub.clusters.append(_host_cluster(state, host, ports))
            if endpoints_at_home and subnet.subnet_id == home:
                sub.clusters.append(_endpoint_cluster(state, endpoints, found))
            if not sub.nodes and not sub.clusters:
                enis = [n for n in state.network_interfaces if n.subnet_id == subnet.subnet_id and n.interface_type == "vpc_endpoint"]
                note = f"{len(enis)} endpoint network interface(s)" if enis else "nothing here yet"
                sub.nodes.append(Node(f"empty_{subnet.subnet_id}", "subnet", note))
        if endpoints and not endpoints_at_home:
            vpc_cluster.clusters.append(_endpoint_cluster(state, endpoints, found))
        for service, codes in found.missing.items():
            target = vpc_cluster.clusters[0] if vpc_cluster.clusters else vpc_cluster
            target = next((c for c in _walk(vpc_cluster) if c.id == "sg_endpoints"), target)
            target.nodes.append(Node(f"missing_{service}", "missing", f"{service} endpoint\nmissing", tuple(codes)))
        for gateway in gateway_endpoints:
            vpc_cluster.nodes.append(Node(f"gw_{gateway.service}", "gateway",
                                          f"{gateway.service} gateway endpoint\n{_short(gateway.endpoint_id)}\n(route table)"))
        igw, nat = _gateways(state, vpc.vpc_id)
        if nat:
            vpc_cluster.nodes.append(Node("nat", "nat", f"NAT gateway\n{_short(nat)}"))
        if igw:
            vpc_cluster.nodes.append(Node("igw", "igw", f"internet gateway\n{_short(igw)}"))
        if not vpc_cluster.nodes and not vpc_cluster.clusters:
            vpc_cluster.nodes.append(Node("vpc_icon", "vpc", "no subnet yet"))
    elif instance is not None:  # an instance outside any VPC in the snapshot
        cloud.nodes.append(_instance_node(instance, found))

    # The agent's path: one edge per connection it opens, then on to the service.
    if instance is not None and role_node is not None:
        drawn.edges.append(Edge("role", "agent", "credentials\nvia IMDS", tuple(found.credentials)))
    for endpoint in endpoints:
        node_id = f"ep_{endpoint.service}"
        if instance is not None and instance.state == "running":
            drawn.edges.append(Edge("agent", node_id, CALLS.get(endpoint.service, "HTTPS 443"),
                                    tuple(found.agent.get(endpoint.service, ()))))
        if endpoint.service in SERVICE_NODES:
            drawn.edges.append(Edge(node_id, service_node(endpoint.service), "",
                                    tuple(found.service.get(endpoint.service, ()))))
    for service, codes in found.missing.items():
        if instance is not None:
            drawn.edges.append(Edge("agent", f"missing_{service}", CALLS.get(service, "HTTPS 443"), tuple(codes)))
    if instance is not None and instance.state == "running" and vpc is not None:
        drawn.edges += _public_paths(state, instance, endpoints, found, service_node)
    if instance is not None and instance.state == "running" and vpc is not None:
        for host, ports in hosts:
            for port in ports:  # the agent's dial for a port session to that host (AWS-StartPortForwardingSessionToRemoteHost)
                judged = hostpath.path(state, instance.instance_id, host.private_ip or "", port)
                failed = judged.first_failure
                drawn.edges.append(Edge("agent", f"host_{host.instance_id}", f"tcp {port}\nport forwarding",
                                        (failed.code,) if failed is not None and failed.code else ()))
    for gateway in gateway_endpoints:
        if instance is not None and instance.state == "running":
            drawn.edges.append(Edge("agent", f"gw_{gateway.service}", CALLS.get(gateway.service, "HTTPS 443")))
        drawn.edges.append(Edge(f"gw_{gateway.service}", service_node(gateway.service), "prefix list route"))

    # Systems Manager is always there: the user reaches it from the console or the CLI.
    service_node("ssm")
    if vpc is not None and not any(e.target == "svc_ssm" for e in drawn.edges):
        for node in vpc_cluster.all_nodes():
            drawn.edges.append(Edge(node.id, "svc_ssm", "", invisible=True))
    cloud.nodes.extend(services_used.values())
    drawn.outside.append(Node("user", "user", "you: console Connect\nor aws ssm start-session"))
    drawn.edges.append(Edge("svc_ssm", "user", "StartSession\nHTTPS 443", back=True))
    return drawn


def _walk(cluster: Cluster) -> Iterable[Cluster]:
    yield cluster
    for c in cluster.clusters:
        yield from _walk(c)


def _routes_to_igw(state: LabState, subnet_id: str) -> bool:
    table = state.route_table_for(subnet_id)
    return bool(table) and any(r.target.startswith("igw-") and r.destination == "0.0.0.0/0" for r in table.routes)


def _instance_node(instance: Instance, found: Breaks) -> Node:
    where = instance.private_ip or "no address"
    state = "" if instance.state == "running" else f"\n({instance.state})"
    return Node("agent", "instance", f"{instance.instance_id}\nSSM Agent · {where}{state}", tuple(found.instance))


def _instance_cluster(state: LabState, instance: Instance, found: Breaks) -> Cluster:
    label = f"{_sg_label(state, instance.group_ids, 'instance')} · {_rule_summary(state, instance.group_ids, 'out')}"
    codes = tuple(c for g in instance.group_ids for c in found.groups.get(g, ()))
    return Cluster("sg_instance", "sg", label, [_instance_node(instance, found)], broken=codes)


def _hosts_behind(state: LabState, instance: Instance) -> list[tuple[Instance, tuple[int, ...]]]:
    """The VPC's other running instances whose security groups admit tcp from the instance's groups (by source
    group), with those ports: hosts a port session reaches through the instance (`steps.private_host`)."""
    found = []
    for other in state.instances:
        if other.instance_id == instance.instance_id or other.vpc_id != instance.vpc_id or other.state != "running":
            continue
        groups = [g for g in (state.security_group(gid) for gid in other.group_ids) if g is not None]
        ports = sorted({rule.port_from for group in groups for rule in group.ingress
                        if rule.source_group_id in instance.group_ids and rule.protocol in ("tcp", "6")
                        and rule.port_from is not None and rule.port_from == rule.port_to})
        if ports:
            found.append((other, tuple(ports)))
    return found


def _host_cluster(state: LabState, host: Instance, ports: tuple[int, ...]) -> Cluster:
    name = dict(host.tags).get("Name", "")
    admits = ", ".join(str(p) for p in ports)
    label = f"{_sg_label(state, host.group_ids, 'host')} · in {admits} from the instance's group"
    return Cluster(f"sg_host_{host.instance_id}", "sg", label, [
        Node(f"host_{host.instance_id}", "instance", f"{host.instance_id}\n{name} · {host.private_ip or 'no address'}")])


def _endpoint_cluster(state: LabState, endpoints: list[VpcEndpoint], found: Breaks) -> Cluster:
    groups = tuple(dict.fromkeys(g for e in endpoints for g in e.group_ids))
    label = f"{_sg_label(state, groups, 'endpoint')} · {_rule_summary(state, groups, 'in')}"
    nodes = []
    # ssm on top: in a left-to-right layout dot puts the first node of a rank at the bottom
    for e in sorted(endpoints, key=lambda e: (AGENT_SERVICES + (e.service,)).index(e.service), reverse=True):
        status = "" if e.state == "available" else f" · {e.state}"
        azs = len(e.subnet_ids)
        nodes.append(Node(
            f"ep_{e.service}", "endpoint",
            f"{e.service} endpoint\n{_short(e.endpoint_id)}\nprivate DNS {_on_off(e.private_dns)}{status}"
            + (f"\nin {azs} subnets" if azs > 1 else ""),
            tuple(found.endpoint_nodes.get(e.endpoint_id, ())),
        ))
    codes = tuple(c for g in groups for c in found.groups.get(g, ()))
    return Cluster("sg_endpoints", "sg", label, nodes, broken=codes)


def _public_paths(state: LabState, instance: Instance, endpoints: list[VpcEndpoint], found: Breaks,
                  service_node: Any) -> list[Edge]:
    """Services the agent reaches through a NAT or internet gateway instead of an endpoint."""
    igw, nat = _gateways(state, instance.vpc_id or "")
    if not (igw or nat):
        return []
    have = {e.service for e in endpoints if e.private_dns}
    edges: list[Edge] = []
    first = "nat" if nat else "igw"
    public = [s for s in AGENT_SERVICES if s not in have and s not in found.missing]
    reached, codes = [], []
    for service in public:
        result = netpath.path(state, instance.instance_id, service)
        if result.resolution.via != "public":
            continue
        reached.append(service)
        codes += [c for c in found.agent.get(service, ()) if c not in codes]
    if reached:
        edges.append(Edge("agent", first, f"HTTPS 443 to the public\n{', '.join(reached)} endpoints", tuple(codes)))
    if edges:
        if nat and igw:
            edges.append(Edge("nat", "igw", "NAT"))
        edges.append(Edge("igw" if igw else "nat", service_node("ssm"), "public endpoints"))
    return edges
