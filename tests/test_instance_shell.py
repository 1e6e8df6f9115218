"""The simulated instance's shell, as a learner sees it: each command on a working lab and on broken ones,
the IMDSv2 token flow, and lines that would run something on a real shell (nothing runs here)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from builders import REGION, endpoints, endpoint, groups, instance, private_lab, sg

from ssmlab.instance import Answer, SimulatedInstance
from ssmlab.model import Image, Imds, Vpc

SSM = f"ssm.{REGION}.amazonaws.com"
PUT = 'TOKEN=$(curl -X PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 21600")'
GET = 'curl -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/'
LOG = "2026-03-02 10:00:20.0001 INFO [amazon-ssm-agent] amazon-ssm-agent - v3.3.1957.0\n"
HIBERNATE = "2026-03-02 10:00:25 INFO Backing off health check to every 600 seconds for 1800 seconds.\n"


def shell(state=None, **kwargs) -> SimulatedInstance:
    files = kwargs.pop("files", {"amazon-ssm-agent.log": LOG, "hibernate.log": HIBERNATE})
    return SimulatedInstance(state or private_lab(), "i-1", files=files, agent_version="3.3.1957.0", **kwargs)


def lines(*commands, state=None) -> list[Answer]:
    sh = shell(state)
    return [sh.run(c) for c in commands]


def dns_off():
    return private_lab(vpcs=(Vpc("vpc-1", "10.0.0.0/16", False, False),))


def private_dns_off():
    return endpoints(private_lab(), endpoint("ssm", private_dns=False))


def no_profile():
    return replace(private_lab(), instances=(instance(profile_arn=None),))


def imds_off():
    return replace(private_lab(), instances=(instance(imds=Imds("disabled", "required")),))


def endpoint_sg_closed():
    return groups(private_lab(), sg("sg-endpoints", ingress=[]))


# -- who and where ------------------------------------------------------------------------------------------

def test_the_default_session_is_sh_as_ssm_user_with_sudo():
    sh = shell()
    assert sh.prompt == "sh-5.2$ "
    assert sh.run("whoami") == Answer("ssm-user\n", 0)
    assert sh.run("id").output == "uid=1001(ssm-user) gid=1001(ssm-user) groups=1001(ssm-user)\n"
    assert sh.run("sudo whoami").output == "root\n"
    assert sh.run("hostname").output == f"ip-10-0-0-5.{REGION}.compute.internal\n"


def test_us_east_1_names_hosts_ec2_internal():
    state = replace(private_lab(), region="us-east-1")
    assert shell(state).run("hostname").output == "ip-10-0-0-5.ec2.internal\n"


def test_os_release_and_prompt_follow_the_ami_name():
    def on(name):
        state = replace(private_lab(), images=(Image("ami-1", name),))
        return shell(state)

    al2023 = on("al2023-ami-2023.6.20241212.0-kernel-6.1-x86_64")
    assert 'PRETTY_NAME="Amazon Linux 2023.6.20241212"' in al2023.run("cat /etc/os-release").output
    al2 = on("amzn2-ami-kernel-5.10-hvm-2.0.20241217.0-x86_64-gp2")
    assert al2.prompt == "sh-4.2$ " and 'PRETTY_NAME="Amazon Linux 2"' in al2.run("cat /etc/os-release").output
    ubuntu = on("ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250115")
    assert ubuntu.prompt == "$ " and "VERSION_CODENAME=noble" in ubuntu.run("cat /etc/os-release").output
    assert ubuntu.run("nosuch") == Answer("sh: 1: nosuch: not found\n", 127)
    assert ubuntu.run("hostname").output == "ip-10-0-0-5\n"


def test_unknown_commands_empty_lines_and_exit():
    sh = shell()
    assert sh.run("ls -la") == Answer("sh: ls: command not found\n", 127)
    assert sh.run("") == Answer("", 0) and sh.run("   # a comment") == Answer("", 0)
    assert sh.run("echo $?").output == "0\n"
    done = sh.run("exit")
    assert done.closes and done.exit_code == 0 and done.output == ""


# -- name resolution --------------------------------------------------------------------------------------

def test_endpoint_names_resolve_to_the_endpoint_interfaces():
    nslookup, dig, getent = lines(f"nslookup {SSM}", f"dig +short ssmmessages.{REGION}.amazonaws.com",
                                  f"getent hosts ec2messages.{REGION}.amazonaws.com")
    assert nslookup.exit_code == 0
    assert f"Name:\t{SSM}\nAddress: 10.0.0.10\n" in nslookup.output and "Server:\t\t127.0.0.53" in nslookup.output
    assert dig.output == "10.0.0.11\n"
    assert getent.output == f"10.0.0.12       ec2messages.{REGION}.amazonaws.com\n"


def test_private_dns_off_gives_the_public_answer_and_says_it_is_a_stand_in():
    answer = shell(private_dns_off()).run(f"nslookup {SSM}")
    assert answer.exit_code == 0 and "10.0.0.10" not in answer.output
    assert answer.output.startswith("# ssmlab: ") and "private DNS off" in answer.output and "203.0.113." in answer.output


def test_dns_support_off_fails_as_the_tools_print_it():
    sh = shell(dns_off())
    nslookup = sh.run(f"nslookup {SSM}")
    assert nslookup.exit_code == 1 and f"** server can't find {SSM}: SERVFAIL" in nslookup.output
    assert sh.run(f"getent hosts {SSM}") == Answer("", 2)
    assert sh.run(f"curl https://{SSM}") == Answer(f"curl: (6) Could not resolve host: {SSM}\n", 6)
    al2 = replace(dns_off(), images=(Image("ami-1", "amzn2-ami-kernel-5.10-hvm-2.0.20241217.0-x86_64-gp2"),))
    timed_out = shell(al2).run(f"dig {SSM}")
    assert timed_out.exit_code == 9 and ";; communications error to 10.0.0.2#53: timed out" in timed_out.output


# -- IMDS ---------------------------------------------------------------------------------------------------

def test_the_imdsv2_token_flow():
    sh = shell()
    put = sh.run(PUT)
    assert put.exit_code == 0 and "% Total" in put.output  # curl's meter on stderr; the token went to $TOKEN
    assert len(sh.run("echo $TOKEN").output.strip()) == 56
    assert sh.run(GET + "instance-id") == Answer("i-1\n", 0)
    assert sh.run(GET + "local-ipv4").output == "10.0.0.5\n"
    assert sh.run(GET + "placement/availability-zone").output == f"{REGION}a\n"
    assert sh.run(GET + "iam/security-credentials/").output == "lab-role\n"
    keys = json.loads(sh.run(GET + "iam/security-credentials/lab-role").output)
    assert keys["Code"] == "Success" and keys["AccessKeyId"].startswith("ASIA")


def test_imds_refuses_without_a_token_or_with_a_forged_one():
    sh = shell()
    assert "<title>401 - Unauthorized</title>" in sh.run("curl http://169.254.169.254/latest/meta-data/instance-id").output
    forged = sh.run('curl -f -H "X-aws-ec2-metadata-token: forged" http://169.254.169.254/latest/meta-data/instance-id')
    assert forged == Answer("curl: (22) The requested URL returned error: 401\n", 22)
    optional = replace(private_lab(), instances=(instance(imds=Imds("enabled", "optional")),))
    assert shell(optional).run("curl http://169.254.169.254/latest/meta-data/instance-id").output == "i-1\n"


def test_no_profile_means_no_role_in_imds():
    sh = shell(no_profile())
    sh.run(PUT)
    assert "<title>404 - Not Found</title>" in sh.run(GET + "iam/security-credentials/").output
    assert "iam/" not in sh.run(GET).output


def test_imds_disabled_never_answers():
    sh = shell(imds_off())
    answer = sh.run(PUT)
    assert answer.exit_code == 28 and "IMDS is disabled on i-1" in answer.output
    assert "curl: (28) Failed to connect to 169.254.169.254 port 80" in answer.output
    assert sh.run("echo $TOKEN").output == "\n"


# -- HTTPS to the services ----------------------------------------------------------------------------------

def test_a_reachable_service_connects_and_an_unreachable_one_times_out_with_the_hop():
    assert shell().run(f"curl https://{SSM}").exit_code == 0
    closed = shell(endpoint_sg_closed()).run(f"curl https://{SSM}")
    assert closed.exit_code == 28
    assert "# ssmlab: the endpoint-sg-ingress hop fails" in closed.output and "sg-endpoints" in closed.output
    assert closed.output.endswith(f"curl: (28) Failed to connect to {SSM} port 443 after 127000 ms: Couldn't connect to server\n")
    quick = shell(endpoint_sg_closed()).run(f"curl --connect-timeout 5 -sS https://{SSM}")
    assert "after 5000 ms: Timeout was reached" in quick.output


def test_the_internet_is_out_of_reach_and_the_reason_is_the_route():
    answer = shell().run("curl https://example.com")
    assert answer.exit_code == 28 and "no route out of the VPC" in answer.output and "rtb-1" in answer.output


# -- the agent ----------------------------------------------------------------------------------------------

def test_systemctl_status_shows_the_running_agent_and_its_version():
    state = replace(private_lab(), instances=(instance(launch_time=datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)),),
                    taken_at=datetime(2026, 3, 2, 10, 7, tzinfo=timezone.utc))
    answer = shell(state).run("sudo systemctl status amazon-ssm-agent")
    assert answer.exit_code == 0 and "Active: active (running) since Mon 2026-03-02 10:00:00 UTC; 7min ago" in answer.output
    assert "amazon-ssm-agent - v3.3.1957.0" in answer.output
    absent = replace(private_lab(), images=(Image("ami-1", "debian-12-amd64-20250101"),))
    assert shell(absent).run("systemctl status amazon-ssm-agent") == Answer("Unit amazon-ssm-agent.service could not be found.\n", 4)


def test_the_agent_logs_need_sudo_and_a_missing_one_is_tails_own_error():
    sh = shell(files={"amazon-ssm-agent.log": LOG})
    path = "/var/log/amazon/ssm/amazon-ssm-agent.log"
    assert sh.run(f"sudo tail -n 1 {path}") == Answer(LOG, 0)
    assert sh.run(f"sudo cat {path}") == Answer(LOG, 0)
    assert sh.run(f"tail {path}") == Answer(f"tail: cannot open '{path}' for reading: Permission denied\n", 1)
    missing = "/var/log/amazon/ssm/hibernate.log"
    assert sh.run(f"sudo tail {missing}") == Answer(f"tail: cannot open '{missing}' for reading: No such file or directory\n", 1)


def test_get_diagnostics_on_a_working_lab():
    sh = shell()
    assert sh.run("ssm-cli get-diagnostics") == Answer("binary needs to be executed by root\n", 0)
    rows = {r["Check"]: r for r in json.loads(sh.run("sudo ssm-cli get-diagnostics").output)["DiagnosticsOutput"]}
    assert list(rows)[:3] == ["EC2 IMDS", "Hybrid instance registration", "Connectivity to ssm endpoint"]
    assert rows["Connectivity to ssm endpoint"] == {"Check": "Connectivity to ssm endpoint", "Status": "Success",
                                                    "Note": f"{SSM} is reachable"}
    assert rows["Connectivity to ssmmessages endpoint"]["Status"] == "Success"
    assert rows["Connectivity to kms endpoint"]["Status"] == "Failed"  # optional, and absent by design
    assert rows["Agent service"]["Status"] == "Success" and rows["SSM Agent version"]["Note"].endswith("3.3.1957.0")
    table = sh.run("sudo ssm-cli get-diagnostics --output table").output
    assert table.startswith("┌") and table.rstrip().endswith("┘")
    assert all(len(line) == len(table.splitlines()[0]) for line in table.splitlines())


@pytest.mark.parametrize("state, check, words", [
    (private_dns_off, "Connectivity to ssm endpoint", "dial tcp 203.0.113."),
    (dns_off, "Connectivity to ssm endpoint", f"dial tcp: lookup {SSM}: i/o timeout"),
    (endpoint_sg_closed, "Connectivity to ssm endpoint", "dial tcp 10.0.0.10:443: i/o timeout"),
    (no_profile, "AWS Credentials", "EC2RoleRequestError: no EC2 instance role found"),
    (imds_off, "EC2 IMDS", "IMDS request timeout"),
    (imds_off, "Connectivity to ssm endpoint", "Unable to fetch AWS region details"),
])
def test_get_diagnostics_names_what_is_broken(state, check, words):
    rows = {r["Check"]: r for r in json.loads(shell(state()).run("sudo ssm-cli get-diagnostics").output)["DiagnosticsOutput"]}
    assert words in rows[check]["Note"] and rows[check]["Status"] in ("Failed", "Skipped")


# -- nothing runs on the host -------------------------------------------------------------------------------

INJECTIONS = [
    "touch pwned", "echo hi > pwned", "cat /etc/passwd | tee pwned", "echo $(touch pwned)", "echo `touch pwned`",
    "X=$(touch pwned) && ls", "sleep 100 &", "(touch pwned)", "curl -o pwned http://169.254.169.254/latest/",
    "python3 -c 'open(\"pwned\",\"w\")'", "sudo -i", "TOKEN=$(curl $(touch pwned))", 'echo "unterminated',
    "sh -c 'touch pwned'", "X=abc$(whoami)", "true || touch pwned",
]


def test_injection_attempts_run_nothing_and_write_nothing(tmp_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError(f"the simulated shell tried to run something on the host: {args}")

    for name in ("run", "Popen", "call", "check_call", "check_output"):
        monkeypatch.setattr(subprocess, name, forbidden)
    monkeypatch.setattr(os, "system", forbidden)
    monkeypatch.setattr(os, "popen", forbidden)
    monkeypatch.chdir(tmp_path)
    sh = shell()
    answers = {line: sh.run(line) for line in INJECTIONS}
    assert list(tmp_path.iterdir()) == []
    assert all(a.exit_code != 0 for a in answers.values()), {k: v for k, v in answers.items() if v.exit_code == 0}
    assert answers["echo hi > pwned"].output.startswith("# ssmlab: redirections")
    assert answers["touch pwned"] == Answer("sh: touch: command not found\n", 127)


def test_the_documented_one_liner_with_backticks_and_and_works():
    """AWS's IMDSv2 example: TOKEN=`curl -X PUT ...` && curl -H "X-aws-ec2-metadata-token: $TOKEN" ..."""
    line = ('TOKEN=`curl -s -X PUT "http://169.254.169.254/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 21600"`'
            ' && curl -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/instance-id')
    assert shell().run(line) == Answer("i-1\n", 0)
