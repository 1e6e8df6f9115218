"""Can this instance's SSM Agent register, and can it hold a channel for sessions? Pure.

A node is managed when the agent has credentials and can reach an SSM endpoint (Systems
Manager User Guide, "Troubleshooting managed node availability"); the agent gets its
credentials from IMDS, which EC2 fills from the instance profile's role (User Guide, "SSM
Agent technical details"). After registering it keeps a control channel: ssmmessages for
agents from 3.3.40.0 on, which fall back to ec2messages when ssmmessages fails; older
agents poll ec2messages. Sessions always need ssmmessages (agent release notes 3.3.40.0;
FACTS.md). The emulator's simulated agent and the doctor both decide with `assess`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ssmlab import netpath, policy
from ssmlab.model import Instance, LabState, Role
from ssmlab.netpath import PathResult

IMDS_DISABLED = "IMDS_DISABLED"
NO_INSTANCE_PROFILE = "NO_INSTANCE_PROFILE"
ROLE_TRUST_MISSING_EC2 = "ROLE_TRUST_MISSING_EC2"
ROLE_MISSING_SSM_PERMISSIONS = "ROLE_MISSING_SSM_PERMISSIONS"

# "switch off ec2messages when ssmmessages connected successfully" (SSM Agent release notes, 3.3.40.0).
EC2MESSAGES_OPTIONAL_FROM = (3, 3, 40, 0)


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str
    code: str | None = None
    resource: str | None = None


@dataclass(frozen=True)
class Assessment:
    instance_id: str
    credentials: Check  # IMDS on + instance profile + a role in it + the role trusts ec2.amazonaws.com
    registration: Check  # ssm reachable and ssm:UpdateInstanceInformation allowed
    ssm_path: PathResult | None
    control_channel: Check  # ssmmessages (or ec2messages: old agents, or the fallback of new ones)
    session_channel: Check  # ssmmessages with control and data channel actions
    channel_paths: dict[str, PathResult] = field(default_factory=dict, hash=False)

    @property
    def registers(self) -> bool:
        return self.credentials.passed and self.registration.passed


def agent_needs_ec2messages(version: str | None) -> bool:
    """True for agents older than 3.3.40.0; an unknown version is taken as a current agent."""
    if version is None:
        return False
    try:
        parts = tuple(int(p) for p in version.strip().split("."))
    except ValueError:
        raise ValueError(f"invalid SSM Agent version {version!r}: expected numbers such as 3.3.40.0") from None
    return parts + (0,) * (4 - len(parts)) < EC2MESSAGES_OPTIONAL_FROM  # "3.3.40" is 3.3.40.0


def _role(state: LabState, instance: Instance) -> tuple[Role | None, Check | None]:
    """The instance's role, or the failed credentials check that explains why there is none."""
    def fail(detail: str, code: str, resource: str | None) -> tuple[None, Check]:
        return None, Check("credentials", False, detail, code, resource)

    if not instance.profile_arn:
        return fail(f"{instance.instance_id} has no instance profile, so IMDS has no role credentials to give the agent",
                    NO_INSTANCE_PROFILE, instance.instance_id)
    profile = state.profile(instance.profile_arn)
    if profile is None:
        return fail(f"the instance profile {instance.profile_arn} attached to {instance.instance_id} was not found "
                    "(deleted, or not read)", NO_INSTANCE_PROFILE, instance.profile_arn)
    if not profile.role_names:
        return fail(f"the instance profile {profile.name} holds no role, so the agent gets no credentials",
                    NO_INSTANCE_PROFILE, profile.arn)
    role = state.profile_role(profile)
    if role is None:
        return fail(f"the role {profile.role_names[0]} of the instance profile {profile.name} was not found",
                    NO_INSTANCE_PROFILE, profile.arn)
    return role, None


def _credentials(instance: Instance, role: Role | None, failed: Check | None) -> Check:
    if instance.imds.http_endpoint == "disabled":
        return Check("credentials", False, f"IMDS is disabled on {instance.instance_id}: the agent reads its identity and "
                     "role credentials from 169.254.169.254", IMDS_DISABLED, instance.instance_id)
    if failed is not None:
        return failed
    assert role is not None
    if not policy.trusts_service(role.trust_policy, "ec2.amazonaws.com"):
        return Check("credentials", False, f"the role {role.name} does not trust ec2.amazonaws.com, so EC2 cannot hand its "
                     "credentials to the instance", ROLE_TRUST_MISSING_EC2, role.arn)
    return Check("credentials", True, f"the agent gets credentials for {role.name} from IMDS", resource=role.arn)


def _instance_arn(state: LabState, instance: Instance, role: Role) -> str:
    """ssm:UpdateInstanceInformation is authorised on the instance's ARN (Service Authorization
    Reference, "Actions defined by AWS Systems Manager"); partition and account come from the role."""
    parts = role.arn.split(":")
    if len(parts) >= 5 and parts[0] == "arn" and parts[4]:
        return f"arn:{parts[1]}:ec2:{state.region}:{parts[4]}:instance/{instance.instance_id}"
    return "*"


def _combined(name: str, paths: list[PathResult], role: Role | None, creds: Check, actions: tuple[str, ...],
              resource: str = "*") -> Check:
    """The channel works when every path is reachable and the role allows every action."""
    broken = next((p for p in paths if not p.reachable), None)
    if broken is not None:
        hop = broken.first_failure
        assert hop is not None
        return Check(name, False, f"{broken.service} is unreachable at hop {hop.name}: {hop.detail}", hop.code, hop.resource)
    if role is None:
        return Check(name, False, f"no role, so nothing to call {', '.join(actions)} with ({creds.detail})",
                     creds.code, creds.resource)
    policies = policy.role_policies(role)
    missing = policy.missing_actions(policies, actions, resource)
    if missing:
        return Check(name, False, f"the role {role.name} does not allow {', '.join(missing)}",
                     ROLE_MISSING_SSM_PERMISSIONS, role.arn)
    conditional = [a for a in actions if policy.evaluate(policies, a, resource).conditional]
    note = f" (if the Condition on {', '.join(conditional)} matches)" if conditional else ""
    services = " and ".join(p.service for p in paths)
    return Check(name, True, f"{services} reachable and {role.name} allows {', '.join(actions)}{note}", resource=role.arn)


def assess(state: LabState, instance_id: str, agent_version: str | None = None) -> Assessment:
    """Everything the agent needs, checked over one snapshot."""
    instance = state.instance(instance_id)
    if instance is None:
        missing = Check("instance", False, f"{instance_id} is not in the snapshot", netpath.INSTANCE_NOT_FOUND, instance_id)
        return Assessment(instance_id, missing, missing, None, missing, missing, {})
    role, failed = _role(state, instance)
    credentials = _credentials(instance, role, failed)
    ssm = netpath.path(state, instance_id, "ssm")
    channels = {s: netpath.path(state, instance_id, s) for s in ("ssmmessages", "ec2messages")}
    arn = _instance_arn(state, instance, role) if role else "*"
    registration = _combined("registration", [ssm], role, credentials, policy.AGENT_REGISTRATION_ACTIONS, arn)

    session = _combined("session-channel", [channels["ssmmessages"]], role, credentials,
                        policy.CONTROL_CHANNEL_ACTIONS + policy.DATA_CHANNEL_ACTIONS)
    legacy = _combined("control-channel", [channels["ec2messages"]], role, credentials, policy.EC2MESSAGES_ACTIONS)
    if agent_needs_ec2messages(agent_version):
        control = legacy if legacy.passed else Check(
            "control-channel", False, f"agent {agent_version} (older than 3.3.40.0) polls ec2messages: {legacy.detail}",
            legacy.code, legacy.resource,
        )
    else:
        modern = _combined("control-channel", [channels["ssmmessages"]], role, credentials, policy.CONTROL_CHANNEL_ACTIONS)
        if modern.passed or not legacy.passed:
            control = modern
        else:
            control = Check("control-channel", True, f"ssmmessages fails ({modern.detail}); the agent falls back to "
                            f"ec2messages: {legacy.detail}", resource=legacy.resource)
    return Assessment(instance_id, credentials, registration, ssm, control, session, channels)
