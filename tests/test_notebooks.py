"""Every notebook executed with papermill (through `ssmlab.runner`) against the emulator: the whole
sequence once, then each notebook alone from a fresh lab, asserting on the values they record.

The notebook runs get an emulator of their own: the Session Manager preferences are region-wide,
and other tests' session-logging labs leave theirs behind (07 puts the region's back at its end).
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from ssmlab import classkeys, emulator, learner, runner
from ssmlab.emulator import control
from ssmlab.lab import Lab

pytestmark = pytest.mark.emulator

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob(runner.NOTEBOOK_GLOB))
REGION = "ap-northeast-1"
EXPECTED_09 = {  # scenario -> error codes the doctor must find while it is broken
    "broken_endpoint_sg": {"ENDPOINT_SG_BLOCKS_HTTPS"},
    "broken_private_dns": {"ENDPOINT_PRIVATE_DNS_DISABLED"},
    "broken_ssmmessages": {"ENDPOINT_MISSING"},
    "broken_before_endpoints": {"NOT_MANAGED"},  # every check passes: the agent hibernates
    "broken_no_profile": {"NO_INSTANCE_PROFILE"},
}


CLASS_SECRET = "the-notebook-tests-class-secret"


@pytest.fixture(scope="module")
def notebook_emulator(tmp_path_factory):
    """A class's emulator (class mode): the sequence runs as a participant, so every call the notebooks make is
    signed with a participant's keys and allowed by the learner policy, or the run fails."""
    with pytest.MonkeyPatch.context() as patch:  # this process and the kernels it starts
        for key in [k for k in os.environ if k.startswith(("AWS_", "SSMLAB_"))]:
            patch.delenv(key)
        patch.setenv("SSMLAB_STATE_DIR", str(tmp_path_factory.mktemp("notebook-emulator")))
        patch.setenv(classkeys.SECRET_VAR, CLASS_SECRET)
        status = emulator.start()
        patch.delenv(classkeys.SECRET_VAR)  # the emulator's, not the kernels'
        patch.setenv("SSMLAB_EMULATOR_URL", str(status.endpoint_url))
        try:
            yield patch
        finally:
            emulator.stop()


def keys(patch: pytest.MonkeyPatch, credentials: classkeys.Credentials) -> None:
    """Sign as these keys, here and in the kernels started from here."""
    patch.setenv(classkeys.ACCESS_KEY_VAR, credentials.access_key_id)
    patch.setenv(classkeys.SECRET_KEY_VAR, credentials.secret_access_key)


def check(name: str, values: dict) -> None:
    """What each notebook must have recorded."""
    number = name[:2]
    if number == "00":
        assert values["preflight"]["target"] == "emulator"
    if number == "01":
        assert values["vpc_dns"] == {"support": True, "hostnames": True} and values["routes"] == [["10.0.0.0/16", "local"]]
    if number == "02":
        assert values["ingress_check"] == {"as_built": True, "as_sample": False}
    if number == "03":
        assert values["endpoints"] == ["ssm", "ssmmessages"]  # two since ec2messages' retirement
    if number == "04":
        assert all(values["role_allows"].values())
    if number == "05":
        assert values["managed"]["ping_status"] == "Online"
    if number == "06":
        assert values["doctor"]["ok"] and values["doctor"]["managed"] and values["doctor"]["errors"] == []
        assert values["run_command"]["status"] == "Success" and values["session"]["started"] == "Connected"
    if number == "07":
        assert values["session_record"] == {"cloudwatch_events": 1, "s3": True, "logged": {"CloudWatch Logs": True, "S3": True}}
        assert values["session_encryption"] == {"key_state": "Enabled", "named": True}
        assert "ROLE_MISSING_KMS_PERMISSIONS" in values["broken_kms_permission"]["errors"]
        assert values["fixed_kms_permission"]["ok"], values["fixed_kms_permission"]
    if number == "08":
        assert values["web"] == {"answered": True, "names_instance": True}
        assert values["database_blocked"] == {"timed_out": True} and values["database"] == {"answered": True}
        assert values["ssh"] == {"exit_code": 0, "user": "ec2-user"}
    if number == "09":
        for scenario, codes in EXPECTED_09.items():
            assert codes <= set(values[scenario]["errors"]), (scenario, values[scenario])
        assert "REBOOT_RECOMMENDED" in values["broken_late_profile"]["codes"]
        assert "REBOOT_RECOMMENDED" in values["broken_before_endpoints"]["codes"]
        for fixed in ("fixed_endpoint_sg", "fixed_private_dns", "fixed_ssmmessages", "fixed_before_endpoints",
                      "fixed_late_profile"):
            assert values[fixed]["ok"] and values[fixed]["managed"], (fixed, values[fixed])
    if number == "10":
        assert values["cost"]["options"] and all(o["lines"] for o in values["cost"]["options"]), values["cost"]
        assert values["cost"]["prices"]["source"].startswith("ssmlab's price snapshot")
        if values["lab_cost"]["exists"]:  # in the sequence, the lab 01-09 built
            priced = sorted(line["detail"].split(" ")[0] for line in values["lab_cost"]["lines"])
            assert {"ssm", "ssmmessages"} <= set(priced) <= {"ec2messages", "ssm", "ssmmessages", "logs", "kms"}
            assert values["lab_cost"]["usd"] > 0, values["lab_cost"]
        else:  # alone: no lab, and pricing built none
            assert values["lab_cost"] == {"exists": False, "usd": 0.0, "usd_per_hour": 0.0, "lines": []}
            assert set(values["checkpoint"].values()) == {"missing"}, values["checkpoint"]
    if number == "11":
        assert values["audit"] == []
    if "01" <= number <= "10":  # run with solutions=True: every exercise solved, as its check judged the lab
        exercises = {k: v for k, v in values.items() if k.startswith(f"exercise {number}-")}
        assert exercises and all(v["solved"] and v["right"] and not v["missing"] for v in exercises.values()), exercises
    if "checkpoint" in values and number not in ("00", "10"):  # the checkpoint verified at least the network
        assert values["checkpoint"]["network"] == "complete", values["checkpoint"]


def run(lab_name: str, notebooks: list[Path], output: Path, alone: bool = False) -> list[runner.NotebookRun]:
    results = runner.run(Lab(lab_name, REGION, "emulator"), notebooks, output, alone=alone)
    failed = runner.failure_lines(results)
    assert not failed, failed
    return results


def test_the_whole_sequence_once_as_a_class_participant(notebook_emulator, tmp_path):
    keys(notebook_emulator, classkeys.participant_credentials(CLASS_SECRET, "nb-sequence"))
    results = run("nb-sequence", NOTEBOOKS, tmp_path)
    assert [r.name for r in results] == [p.stem for p in NOTEBOOKS]
    for result in results:
        check(result.name, result.recorded)
    assert next(r for r in results if r.name.startswith("10")).recorded["lab_cost"]["exists"]
    assert len(list((tmp_path / "pictures").glob("*.png"))) >= 8
    # The learner policy is derived from these calls: every one is listed, none was refused.
    keys(notebook_emulator, classkeys.roster(CLASS_SECRET).facilitator)  # the call log is the facilitator's
    calls = control.calls(Lab("nb-sequence", REGION, "emulator"), all_labs=True)["calls"]
    refused = sorted({(c["service"], c["action"], c["error"]) for c in calls
                      if c["error"] in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")})
    assert not refused, refused
    unlisted = sorted({(c["service"], c["action"]) for c in calls} - set(learner.notebook_calls()))
    assert not unlisted, f"add these to ssmlab/data/notebook_calls.json: {unlisted}"


def test_each_notebook_alone_from_a_fresh_lab(notebook_emulator, tmp_path):
    """Each notebook against a lab of its own (nb-alone-NN), in one kernel reset between notebooks as
    `ssmlab run` does; 00 ran alone from a fresh lab as the sequence's first notebook."""
    keys(notebook_emulator, classkeys.roster(CLASS_SECRET).facilitator)  # a lab per notebook: the facilitator's
    alone = [p for p in NOTEBOOKS if p.name[:2] != "00"]
    results = run("nb-alone", alone, tmp_path, alone=True)
    assert [r.name for r in results] == [p.stem for p in alone]
    for result in results:
        check(result.name, result.recorded)
        injected = next(c for c in nbformat.read(str(result.output), as_version=4).cells
                        if "injected-parameters" in c.metadata.get("tags", []))
        assert f"lab_name = \"nb-alone-{result.name[:2]}\"" in injected.source  # a fresh lab of its own
