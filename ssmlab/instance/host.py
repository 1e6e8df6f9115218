"""What the instance says about itself: its OS (from the AMI name), names, user, agent service and agent logs. Pure.

Sources:
- The session shell is `sh` (aws/amazon-ssm-agent `agent/session/shell/shell_unix.go`, `exec.Command("sh")`) run
  as ssm-user, which the agent creates with `useradd -m ssm-user` (`agent/session/utility/model/model_unix.go`)
  and lets `sudo` anything (`agent/session/utility/utility_unix.go`: `/etc/sudoers.d/ssm-agent-users`,
  "ssm-user ALL=(ALL) NOPASSWD:ALL"). `useradd` gives the next free uid from UID_MIN 1000 and a group of its
  own; cloud-init's default user (ec2-user, ubuntu) already holds 1000, so ssm-user gets 1001.
- On Amazon Linux `sh` is bash, whose default prompt is `\\s-\\v\\$ ` (bash manual, PS1): "sh-5.2$ " on Amazon
  Linux 2023 (bash 5.2), "sh-4.2$ " on Amazon Linux 2 (bash 4.2). On Ubuntu `sh` is dash: "$ ", and dash words
  an unknown command "sh: 1: X: not found".
- Hostname: the IP name ip-<a-b-c-d>.<region>.compute.internal, ip-<a-b-c-d>.ec2.internal in us-east-1 (Amazon
  EC2 User Guide, "Amazon EC2 instance hostname types"); Amazon Linux sets the full name, Ubuntu's cloud-init
  the first label.
- The agent's systemd unit: `packaging/linux/amazon-ssm-agent.service` (Description=amazon-ssm-agent,
  installed at /etc/systemd/system by `packaging/linux/amazon-ssm-agent.spec`); on Ubuntu the agent is a snap
  (User Guide, "AMIs with SSM Agent preinstalled"), whose unit is snap.amazon-ssm-agent.amazon-ssm-agent.service.
The simulation's own choices: an instance whose AMI the snapshot does not name is taken as Amazon Linux 2023
(the kit's AMI); PIDs, memory and task counts in `systemctl status`; the agent's log files are readable by root
only (AWS's instructions read them with sudo); `id` shows no SELinux context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from ssmlab import amis
from ssmlab.model import Instance, LabState

LOG_DIR = "/var/log/amazon/ssm"
LOG_FILES = ("amazon-ssm-agent.log", "hibernate.log", "errors.log", "audits")
UNIT = "amazon-ssm-agent.service"
SNAP_UNIT = "snap.amazon-ssm-agent.amazon-ssm-agent.service"


@dataclass(frozen=True)
class Os:
    key: str  # "al2023" | "al2" | "ubuntu"
    os_release: str
    shell_version: str | None  # bash's version (Amazon Linux); None: dash (Ubuntu)
    kernel: str

    @property
    def dash(self) -> bool:
        return self.shell_version is None


def _al2023(release: str) -> str:
    return "\n".join((
        'NAME="Amazon Linux"', 'VERSION="2023"', 'ID="amzn"', 'ID_LIKE="fedora"', 'VERSION_ID="2023"',
        'PLATFORM_ID="platform:al2023"', f'PRETTY_NAME="Amazon Linux {release}"', 'ANSI_COLOR="0;33"',
        'CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2023"', 'HOME_URL="https://aws.amazon.com/linux/amazon-linux-2023/"',
        'DOCUMENTATION_URL="https://docs.aws.amazon.com/linux/"', 'SUPPORT_URL="https://aws.amazon.com/premiumsupport/"',
        'BUG_REPORT_URL="https://github.com/amazonlinux/amazon-linux-2023"', 'VENDOR_NAME="AWS"',
        'VENDOR_URL="https://aws.amazon.com/"', 'SUPPORT_END="2029-06-30"',
    )) + "\n"


AL2_RELEASE = "\n".join((
    'NAME="Amazon Linux"', 'VERSION="2"', 'ID="amzn"', 'ID_LIKE="centos rhel fedora"', 'VERSION_ID="2"',
    'PRETTY_NAME="Amazon Linux 2"', 'ANSI_COLOR="0;33"', 'CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2"',
    'HOME_URL="https://amazonlinux.com/"', 'SUPPORT_END="2026-06-30"',
)) + "\n"

UBUNTU = {"22.04": ("jammy", "Jammy Jellyfish"), "24.04": ("noble", "Noble Numbat"), "20.04": ("focal", "Focal Fossa")}


def _ubuntu(version: str) -> str:
    codename, words = UBUNTU.get(version, UBUNTU["24.04"])
    return "\n".join((
        f'PRETTY_NAME="Ubuntu {version} LTS"', 'NAME="Ubuntu"', f'VERSION_ID="{version}"',
        f'VERSION="{version} LTS ({words})"', f"VERSION_CODENAME={codename}", "ID=ubuntu", "ID_LIKE=debian",
        'HOME_URL="https://www.ubuntu.com/"', 'SUPPORT_URL="https://help.ubuntu.com/"',
        'BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"',
        'PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"',
        f"UBUNTU_CODENAME={codename}",
    )) + "\n"


def os_of(state: LabState, instance: Instance) -> Os:
    """The OS the AMI's name says (amis.FAMILIES); Amazon Linux 2023 when the snapshot has no name for it."""
    image = state.image(instance.image_id)
    name = image.name if image else ""
    found = amis.family(name)
    platform = found.platform if found else amis.AL2023
    if platform.get("PlatformName") == "Ubuntu":
        version = re.search(r"(\d\d\.\d\d)", name)
        return Os("ubuntu", _ubuntu(version.group(1) if version else "24.04"), None, "6.8.0-1021-aws")
    if platform is amis.AL2 or platform.get("PlatformVersion") == "2":
        return Os("al2", AL2_RELEASE, "4.2", "4.14.355-275.582.amzn2.x86_64")
    release = re.search(r"al2023-ami-(?:minimal-|ecs-hvm-)?(2023\.\d+\.\d+)", name)
    return Os("al2023", _al2023(release.group(1) if release else "2023"), "5.2", "6.1.119-129.201.amzn2023.x86_64")


def prompt(os: Os, root: bool, shell: str = "sh", user: str = "", name: str = "") -> str:
    """The shell's prompt: the agent's `sh`, or the login user's bash over SSH (`shell` "login"), whose PS1 is
    `[\\u@\\h \\W]\\$ ` on Amazon Linux (/etc/bashrc) and `\\u@\\h:\\w\\$ ` on Ubuntu (/etc/skel/.bashrc)."""
    sign = "#" if root else "$"
    if shell == "login":
        short = name.split(".", 1)[0]
        return f"{user}@{short}:~{sign} " if os.key == "ubuntu" else f"[{user}@{short} ~]{sign} "
    if os.dash:
        return f"{sign} "
    return f"sh-{os.shell_version}{sign} "


def not_found(os: Os, command: str, shell: str = "sh") -> str:
    """An unknown command, in the words of the shell that ran it: the agent's sh (bash, or dash on Ubuntu), the
    login bash of an SSH session (its $0 is -bash), or bash -c running an SSH command (bash 5.1 and later add
    the line number)."""
    if shell == "login":
        return f"-bash: {command}: command not found\n"
    if shell == "command":
        return f"bash: line 1: {command}: command not found\n"
    return f"sh: 1: {command}: not found\n" if os.dash else f"sh: {command}: command not found\n"


LOGIN_USERS = {"al2023": "ec2-user", "al2": "ec2-user", "ubuntu": "ubuntu"}  # cloud-init's default user
# The default user's groups from each distribution's cloud.cfg (default_user: groups); the gids are the
# distributions' base ones (the simulation's reading of them).
LOGIN_GROUPS = {"ec2-user": "4(adm),10(wheel),190(systemd-journal)",
                "ubuntu": "4(adm),24(cdrom),27(sudo),30(dip),105(lxd)"}


def login_user(os: Os) -> str:
    """The user SSH logs in as: cloud-init's default user, which holds uid 1000."""
    return LOGIN_USERS.get(os.key, "ec2-user")


def private_name(state: LabState, instance: Instance) -> str:
    """The instance's IP name (EC2 User Guide, "Amazon EC2 instance hostname types")."""
    label = "ip-" + (instance.private_ip or "0.0.0.0").replace(".", "-")
    domain = "ec2.internal" if state.region == "us-east-1" else f"{state.region}.compute.internal"
    return f"{label}.{domain}"


def hostname(state: LabState, instance: Instance, os: Os) -> str:
    full = private_name(state, instance)
    return full.split(".", 1)[0] if os.key == "ubuntu" else full


def ident(user: str, flag: str | None) -> tuple[str, int]:
    """`id` (and -u, -g, -n -u): root is 0; ssm-user 1001, with a group of its own (see the module's docstring);
    cloud-init's default user 1000, in the groups its cloud.cfg gives it."""
    uid = 0 if user == "root" else 1000 if user in LOGIN_GROUPS else 1001
    if flag in ("-u",):
        return f"{uid}\n", 0
    if flag in ("-g",):
        return f"{uid}\n", 0
    if flag in ("-un", "-nu", "-gn", "-ng"):
        return f"{user}\n", 0
    if flag is not None:
        return f"id: invalid option -- '{flag.lstrip('-')[:1]}'\nTry 'id --help' for more information.\n", 1
    if user == "root":
        return "uid=0(root) gid=0(root) groups=0(root)\n", 0
    extra = f",{LOGIN_GROUPS[user]}" if user in LOGIN_GROUPS else ""
    return f"uid={uid}({user}) gid={uid}({user}) groups={uid}({user}){extra}\n", 0


def uname(state: LabState, instance: Instance, os: Os, flags: list[str]) -> tuple[str, int]:
    fields = {"-s": "Linux", "-n": hostname(state, instance, os), "-r": os.kernel, "-m": "x86_64"}
    if not flags:
        return "Linux\n", 0
    if flags == ["-a"]:
        version = ("#1 SMP Tue Dec 10 09:44:26 UTC 2024" if os.key != "ubuntu"
                   else "#22-Ubuntu SMP Wed Nov 27 00:09:52 UTC 2024")
        tail = "x86_64 x86_64 x86_64 GNU/Linux" if os.key != "ubuntu" else "x86_64 x86_64 x86_64 GNU/Linux"
        return f"Linux {fields['-n']} {os.kernel} {version} {tail}\n", 0
    if all(f in fields for f in flags):
        return " ".join(fields[f] for f in flags) + "\n", 0
    return f"uname: invalid option -- '{flags[0].lstrip('-')[:1]}'\nTry 'uname --help' for more information.\n", 1


def _since(state: LabState, instance: Instance) -> str:
    """ "since <when>; <age> ago" from the launch (the agent starts with the instance), if the snapshot dates both."""
    start, now = instance.launch_time, state.taken_at
    if not isinstance(start, datetime) or not isinstance(now, datetime):
        return ""
    minutes = max(0, int((now - start).total_seconds() // 60))
    age = f"{minutes}min" if minutes < 60 else f"{minutes // 60}h {minutes % 60}min"
    return f" since {start:%a %Y-%m-%d %H:%M:%S} UTC; {age} ago"


def systemctl_status(state: LabState, instance: Instance, os: Os, unit: str, agent_log: str | None,
                     agent_present: bool) -> tuple[str, int]:
    """`systemctl status amazon-ssm-agent`: active (running) with the agent's last lines, as journald keeps them."""
    wanted = unit if unit.endswith(".service") else unit + ".service"
    own = SNAP_UNIT if os.key == "ubuntu" else UNIT
    if wanted != own or not agent_present:
        return f"Unit {wanted} could not be found.\n", 4
    path = "/etc/systemd/system/snap.amazon-ssm-agent.amazon-ssm-agent.service" if os.key == "ubuntu" \
        else "/etc/systemd/system/amazon-ssm-agent.service"
    binary = "/snap/amazon-ssm-agent/current/amazon-ssm-agent" if os.key == "ubuntu" else "/usr/bin/amazon-ssm-agent"
    preset = "vendor preset" if os.key == "al2" else "preset"
    lines = [
        f"● {own} - {'Service for snap application amazon-ssm-agent.amazon-ssm-agent' if os.key == 'ubuntu' else 'amazon-ssm-agent'}",
        f"     Loaded: loaded ({path}; enabled; {preset}: {'enabled' if os.key == 'ubuntu' else 'disabled'})",
        f"     Active: active (running){_since(state, instance)}",
        "   Main PID: 1523 (amazon-ssm-agen)",
        "      Tasks: 22 (limit: 1111)",
        "     Memory: 28.4M",
        f"     CGroup: /system.slice/{own}",
        f"             ├─1523 {binary}",
        f"             └─1544 {binary.rsplit('/', 1)[0]}/ssm-agent-worker",
    ]
    tail = [line for line in (agent_log or "").splitlines() if line.strip()][-10:]
    if tail:
        name = hostname(state, instance, os).split(".", 1)[0]
        lines.append("")
        lines += [f"{_journal_stamp(line)} {name} amazon-ssm-agent[1523]: {line}" for line in tail]
    return "\n".join(lines) + "\n", 0


def _journal_stamp(log_line: str) -> str:
    """journald's short stamp ("Dec 17 10:00:20") from the agent line's own "2024-12-17 10:00:20"."""
    try:
        when = datetime.strptime(log_line[:19], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return "-- --"
    return f"{when:%b %d %H:%M:%S}"


def log_path(path: str) -> str | None:
    """The agent log a path names (/var/log/amazon/ssm/<file>), or None."""
    directory, _, name = path.rpartition("/")
    return name if directory == LOG_DIR and name in LOG_FILES else None


def read(path: str, files: dict[str, str], os: Os, root: bool, tool: str) -> tuple[str | None, str]:
    """A file's text, or `tool`'s error for it (missing, or root's and we are not root)."""
    if path == "/etc/os-release":
        return os.os_release, ""
    name = log_path(path)
    quoted = f"'{path}'" if tool == "tail" else path
    if name is not None and name in files:
        if not root:
            return None, f"{tool}: {'cannot open ' + quoted + ' for reading' if tool == 'tail' else quoted}: Permission denied\n"
        text = files[name]
        return (text if not text or text.endswith("\n") else text + "\n"), ""
    if tool == "tail":
        return None, f"tail: cannot open '{path}' for reading: No such file or directory\n"
    return None, f"cat: {path}: No such file or directory\n"


def tail(text: str, count: int) -> str:
    lines = text.splitlines(keepends=True)
    return "".join(lines[-count:]) if count else ""
