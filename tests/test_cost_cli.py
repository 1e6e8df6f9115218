"""`ssmlab cost` as a learner runs it, and the charts it writes."""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import pytest

from ssmlab import costplot
from ssmlab.cost import Scenario, estimate
from ssmlab.prices import PriceBook

BOOK = PriceBook.offline()


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ssmlab.cli", "cost", *args], capture_output=True, text=True, timeout=60)


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_the_table_names_every_option_with_its_monthly_cost_and_the_price_source():
    done = run("--region", "ap-northeast-1")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "USD per month" in out
    rows = [line.strip() for line in out.splitlines() if line.startswith("  ") and not line.startswith("      ")]
    assert rows[1].startswith("Session Manager: ssm, ssmmessages "), rows  # the headline: what the build creates
    for title, usd in (("Session Manager: ssm, ssmmessages", "20.45"),
                       ("Session Manager + ec2messages, for agents < 3.3.40.0", "30.67"),
                       ("Session Manager with session logging: + logs", "30.67"),
                       ("Session Manager, logging and KMS encryption: + logs, kms", "40.89"),
                       ("EC2 Instance Connect Endpoint", "0.00"), ("NAT gateway to the public endpoints", "48.97")):
        row = next(line for line in out.splitlines() if line.strip().startswith(title))
        assert row.split()[-1] == usd, row
    assert "2 endpoints x 1 AZ x 730 h at $0.014/AZ-h = $20.44" in out
    assert "AWS retires that endpoint on 2026-09-30" in out
    assert "20 concurrent connections" in out and "Break-even" in out
    assert "Prices: ssmlab's price snapshot" in out and "compiled 2026-11-29" in out


def test_json_carries_the_figures_and_their_source():
    done = run("--region", "us-east-1", "--azs", "2", "--gb", "100", "--participants", "3", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    options = {o["key"]: o for o in document["options"]}
    assert options["ssm"]["usd"] == pytest.approx(3 * (29.20 + 1.00)) and options["ssm"]["endpoints"] == ["ssm", "ssmmessages"]
    assert options["ssm-shared"]["usd_per_participant"] == pytest.approx((29.20 + 3.00) / 3, abs=1e-4)  # rounded to 4 places
    assert list(options) == ["ssm", "ssm-ec2messages", "ssm-logging", "ssm-logging-kms", "ssm-shared", "eice", "nat"]
    assert document["prices"]["source"].startswith("ssmlab's price snapshot")
    assert {b["key"] for b in document["break_even"]} == {"nat_gb", "endpoint_count"}


@pytest.mark.parametrize("args, named", [
    (("--region", "mars-1"), "no prices for region 'mars-1': the price snapshot has ap-northeast-1"),
    (("--hours", "-1"), "invalid hours -1"),
    (("--azs", "0"), "invalid number of Availability Zones 0"),
    (("--gb", "-3"), "invalid data volume -3"),
    (("--participants", "0"), "invalid number of participants 0"),
    (("--hours", "soon"), "argument --hours: invalid float value: 'soon'"),
])
def test_bad_input_is_one_line_and_exit_2(args, named, tmp_path):
    done = run(*args, "--plot", str(tmp_path / "chart.png"))
    assert done.returncode == 2
    assert named in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert not (tmp_path / "chart.png").exists()  # nothing written


def test_unknown_region_points_to_live():
    assert "--live" in run("--region", "mars-1").stderr


def test_plot_is_written_as_a_png(tmp_path):
    done = run("--region", "eu-west-1", "--plot", str(tmp_path / "cost.png"))
    assert done.returncode == 0, done.stderr
    written = tmp_path / "cost.png"
    assert f"charts written to {written}" in done.stdout
    width, height = png_size(written)
    assert width >= 1000 and height >= 1400 and written.stat().st_size > 50_000


def texts(figure) -> str:
    found = [figure._suptitle.get_text() if figure._suptitle else ""]
    for ax in figure.axes:
        found += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        found += [t.get_text() for t in ax.texts]
        found += [t.get_text() for t in ax.get_yticklabels() + ax.get_xticklabels()]
        if ax.get_legend():
            found += [t.get_text() for t in ax.get_legend().get_texts()]
    return "\n".join(found)


def test_options_chart_labels_each_bar_in_dollars(tmp_path):
    result = estimate(BOOK, Scenario("ap-northeast-1", participants=4))
    figure = costplot.options_chart(result)
    shown = texts(figure)
    assert "USD per month" in shown and r"\$20.45" in shown and "free" in shown and "each)" in shown
    assert "EC2 Instance Connect Endpoint" in shown and "NAT gateway" in shown
    assert png_size(costplot.save(figure, tmp_path / "options.png"))[0] > 500


@pytest.mark.parametrize("by, axis", [("azs", "Availability Zones"), ("vpcs", "VPCs")])
def test_scaling_chart_grows_with_azs_or_vpcs(by, axis, tmp_path):
    figure = costplot.scaling_chart(BOOK, Scenario("us-east-1", gb=0), by=by, upto=4)
    ax = figure.axes[0]
    assert axis in ax.get_xlabel() and ax.get_ylabel() == "USD per month"
    two = next(line for line in ax.get_lines() if line.get_label() == "Session Manager, 2 endpoints")
    assert list(two.get_ydata()) == pytest.approx([14.6 * n for n in (1, 2, 3, 4)])
    three = next(line for line in ax.get_lines() if line.get_label().startswith("Session Manager, 3 endpoints"))
    assert list(three.get_ydata()) == pytest.approx([21.9 * n for n in (1, 2, 3, 4)])
    free = next(line for line in ax.get_lines() if line.get_label() == "EC2 Instance Connect Endpoint")
    assert set(free.get_ydata()) == {0.0}
    assert costplot.save(figure, tmp_path / f"{by}.png").stat().st_size > 10_000


def test_regions_chart_covers_the_priced_regions_and_names_those_left_out():
    costs, left_out = costplot.regional_costs(BOOK, Scenario("us-east-1"))
    assert set(costs) | set(left_out) == set(BOOK.regions)
    assert "us-east-2" in left_out and "ap-northeast-1" in costs
    assert list(costs)[0] in ("us-east-1", "us-west-2")  # cheapest first
    shown = texts(costplot.regions_chart(BOOK, Scenario("us-east-1")))
    assert "left out, no verified figure: ap-northeast-3" in shown


@pytest.mark.emulator
def test_live_prices_from_the_emulator_pricing_api(emulator):
    done = emulator.cli("cost", "--live", "--region", "ap-southeast-1", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["prices"]["source"].startswith("the AWS Pricing API")
    assert {o["key"]: o["usd"] for o in document["options"]}["ssm"] == pytest.approx(2 * 730 * 0.013 + 0.01)
    assert document["prices"]["as_of"] == ["2026-07-24", "2026-08-10"]


@pytest.mark.emulator
def test_the_lab_cost_so_far(emulator):
    built = emulator.cli("build", "--lab", "costlab", "--region", "ca-central-1", "--until", "endpoints")
    assert built.returncode == 0, built.stderr
    done = emulator.cli("cost", "--lab", "costlab", "--region", "ca-central-1", "--json")
    assert done.returncode == 0, done.stderr
    lab = json.loads(done.stdout)["lab"]
    assert [line["detail"].split(" ")[0] for line in lab["lines"]] == ["ssm", "ssmmessages"]
    assert lab["usd"] == pytest.approx(2 * 0.011) and lab["usd_per_hour"] == pytest.approx(2 * 0.011)
    assert emulator.cli("cleanup", "--lab", "costlab", "--region", "ca-central-1").returncode == 0


@pytest.mark.emulator
def test_target_aws_says_the_hourly_cost_before_it_creates_anything(emulator, monkeypatch, capsys):
    import boto3

    from ssmlab import cli
    from ssmlab.lab import Lab

    # Real AWS stood in for by the emulator, so that what target aws prints is what is tested.
    monkeypatch.setattr(Lab, "is_emulator", property(lambda self: False))
    monkeypatch.setattr(Lab, "endpoint_url", property(lambda self: emulator.endpoint_url))
    monkeypatch.setattr(Lab, "session", property(lambda self: boto3.session.Session(
        region_name=self.region, aws_access_key_id="testing", aws_secret_access_key="testing")))
    code = cli.main(["build", "--lab", "cost-aws", "--region", "eu-west-2", "--azs", "2", "--until", "endpoints",
                     "--target", "aws"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert "REAL AWS account" in lines[0]
    assert lines[1].startswith("cost: 2 interface endpoints x 2 AZ = $0.044 per hour ($32.12 a month)")
    assert lines[2].startswith("[1/3]")
    monkeypatch.undo()
    assert cli.main(["cleanup", "--lab", "cost-aws", "--region", "eu-west-2"]) == 0
