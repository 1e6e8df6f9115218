"""The cost model, checked against figures worked out by hand from ../shared/prices/README.md."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from ssmlab import cost
from ssmlab.cost import Scenario, estimate
from ssmlab.errors import BadInput
from ssmlab.prices import PriceBook, PriceMissing, UnknownRegion
from builders import REGION, endpoint, instance, private_lab

BOOK = PriceBook.offline()
NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.timezone.utc)


def totals(region, **kwargs):
    result = estimate(BOOK, Scenario(region, **kwargs))
    return {o.key: o.total for o in result.options}


# -- two regions by hand ---------------------------------------------------------------------


def test_tokyo_two_endpoints_in_one_az_for_a_month():
    # 2 endpoints x 1 AZ x 730 h x $0.014 = $20.44; 1 GB x $0.01
    t = totals("ap-northeast-1", azs=1, hours=730, gb=1)
    assert t["ssm"] == pytest.approx(20.44 + 0.01)
    assert t["ssm-ec2messages"] == pytest.approx(3 * 730 * 0.014 + 0.01)  # agents older than 3.3.40.0
    assert t["ssm-logging"] == pytest.approx(3 * 730 * 0.014 + 0.01)  # + logs; the S3 gateway endpoint is free
    assert t["ssm-logging-kms"] == pytest.approx(4 * 730 * 0.014 + 0.01)  # + logs, kms
    assert t["eice"] == 0
    # NAT: 730 h x $0.062 + 1 GB x $0.062 + its Elastic IP 730 h x $0.005
    assert t["nat"] == pytest.approx(45.26 + 0.062 + 3.65)


def test_the_headline_is_what_the_build_creates_and_kms_only_counts_with_encryption():
    from ssmlab.steps.endpoints import services_for

    result = estimate(BOOK, Scenario("eu-west-1"))
    headline = result.options[0]
    assert headline.key == "ssm" and headline.endpoints == services_for() == ("ssm", "ssmmessages")
    assert result.option("ssm-ec2messages").endpoints == services_for(with_ec2messages=True)
    with_kms = [o.key for o in result.options if "kms" in o.endpoints]
    assert with_kms == ["ssm-logging-kms"] and "KMS" in result.option("ssm-logging-kms").title
    assert "2026-09-30" in result.option("ssm-ec2messages").tradeoff


def test_north_virginia_two_azs_and_more_data():
    # 2 endpoints x 2 AZ x 730 h x $0.010 = $29.20; 100 GB x $0.01 = $1.00
    t = totals("us-east-1", azs=2, hours=730, gb=100)
    assert t["ssm"] == pytest.approx(29.20 + 1.00)
    # one NAT gateway: 730 x $0.045 + 100 x $0.045 + 730 x $0.005
    assert t["nat"] == pytest.approx(32.85 + 4.50 + 3.65)
    lines = estimate(BOOK, Scenario("us-east-1", azs=2, gb=100)).option("ssm").lines
    assert lines[0].detail == "2 endpoints x 2 AZs x 730 h at $0.01/AZ-h" and lines[0].quantity == 2 * 2 * 730


def test_a_started_hour_is_billed_in_full():
    assert totals("us-east-1", hours=0.5, gb=0)["ssm"] == pytest.approx(2 * 1 * 0.01)
    assert totals("us-east-1", hours=2.01, gb=0)["ssm"] == pytest.approx(2 * 3 * 0.01)


# -- tiers -----------------------------------------------------------------------------------


PB = 1_048_576  # GB


@pytest.mark.parametrize("gb, usd", [
    (0, 0.0),
    (PB, PB * 0.01),
    (PB + 1, PB * 0.01 + 0.006),
    (5 * PB, PB * 0.01 + 4 * PB * 0.006),
    (5 * PB + 1, PB * 0.01 + 4 * PB * 0.006 + 0.004),
    (6 * PB, PB * 0.01 + 4 * PB * 0.006 + PB * 0.004),
])
def test_endpoint_data_tiers_at_their_boundaries(gb, usd):
    assert BOOK.region("eu-west-1")["endpoint_gb"].charge(gb) == pytest.approx(usd)


def test_tiers_count_the_data_of_every_participant_together():
    # 2 participants x 0.75 PB: the second crosses 1 PB, so 0.5 PB is charged at $0.006
    result = estimate(BOOK, Scenario("eu-west-1", gb=0.75 * PB, participants=2))
    data = result.option("ssm").lines[1]
    assert data.quantity == 1.5 * PB
    assert data.usd == pytest.approx(PB * 0.01 + 0.5 * PB * 0.006)
    assert "(tiered)" in data.detail


# -- sharing, EICE, NAT ------------------------------------------------------------------------


def test_participants_with_their_own_endpoints_and_with_one_shared_set():
    result = estimate(BOOK, Scenario("ap-northeast-1", azs=1, hours=3, gb=0, participants=30))
    own, shared = result.option("ssm"), result.option("ssm-shared")
    assert own.total == pytest.approx(30 * 2 * 3 * 0.014)
    assert own.per_participant == pytest.approx(2 * 3 * 0.014)
    assert shared.total == pytest.approx(2 * 3 * 0.014) and shared.endpoints == ("ssm", "ssmmessages")
    assert shared.per_participant == pytest.approx(2 * 3 * 0.014 / 30)
    assert result.option("eice").lines[0].quantity == 30  # one per VPC
    assert result.option("nat").total == pytest.approx(30 * 3 * (0.062 + 0.005))


def test_one_participant_has_no_shared_option():
    assert "ssm-shared" not in totals("ap-northeast-1")


def test_eice_tradeoffs_are_stated():
    tradeoff = estimate(BOOK, Scenario("us-east-1")).option("eice").tradeoff
    for fact in ("SSH/RDP only", "one per VPC", "20 concurrent connections", "one hour", "no session transcripts"):
        assert fact in tradeoff


# -- break-even ------------------------------------------------------------------------------


def test_nat_break_even_in_gb():
    # eu-west-1, 3 AZs: endpoints 2 x 3 x 730 x 0.011 = 48.18 + 0.01 g; NAT 730 x 0.048 + 730 x 0.005 = 38.69 + 0.048 g
    result = estimate(BOOK, Scenario("eu-west-1", azs=3, gb=0))
    point = next(b for b in result.break_even if b.key == "nat_gb")
    assert point.value == pytest.approx((48.18 - 38.69) / (0.048 - 0.01), abs=0.01)
    assert "250 GB" in point.text and "the two endpoints (ssm, ssmmessages)" in point.text


def test_nat_costs_more_at_any_volume_with_one_az():
    point = next(b for b in estimate(BOOK, Scenario("ap-northeast-1")).break_even if b.key == "nat_gb")
    assert point.value == 0 and "any data volume" in point.text


def test_endpoint_count_break_even():
    # Tokyo, 1 AZ, 1 GB: k x 10.22 + 0.01 > 48.972 first at k = 5, one more than logging with KMS encryption
    point = next(b for b in estimate(BOOK, Scenario("ap-northeast-1")).break_even if b.key == "endpoint_count")
    assert point.value == 5
    assert "the build creates 2; session logging and KMS encryption make 4" in point.text


# -- the lab's own cost so far -------------------------------------------------------------------


def test_lab_cost_so_far_from_creation_times():
    created = NOW - dt.timedelta(hours=2, minutes=30)  # 3 started hours
    state = private_lab(
        endpoints=(
            dataclasses.replace(endpoint("ssm", subnets=("subnet-a", "subnet-b")), created=created),
            dataclasses.replace(endpoint("ssmmessages"), created=created),
            dataclasses.replace(endpoint("ec2messages", state="deleted"), created=created),  # gone: not billed
            dataclasses.replace(endpoint("s3", kind="Gateway"), created=created),  # gateway: free
        ),
        instances=(instance(public_ip="54.1.2.3", launch_time=NOW - dt.timedelta(minutes=10)),),
    )
    rate = BOOK.region(REGION)["endpoint_hour"].rate
    so_far = cost.lab_cost(state, BOOK, NOW)
    assert [line.component for line in so_far.lines] == ["endpoint hours", "endpoint hours", "public IPv4"]
    assert so_far.lines[0].quantity == 2 * 3 and so_far.lines[1].quantity == 3
    assert so_far.total == pytest.approx(9 * rate + 1 * 0.005)
    assert so_far.hourly == pytest.approx(3 * rate + 0.005)


def test_an_empty_lab_has_cost_nothing():
    assert cost.lab_cost(private_lab(endpoints=(), instances=()), BOOK, NOW).total == 0


def test_hourly_estimate_for_target_aws():
    assert cost.hourly_lab_estimate(BOOK, "ap-northeast-1", azs=2, endpoints=3) == pytest.approx(6 * 0.014)
    assert cost.hourly_lab_estimate(BOOK, "ap-northeast-1") == pytest.approx(2 * 0.014)  # the build's default


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("changes, named", [
    ({"hours": -1}, "invalid hours -1"),
    ({"hours": 0}, "invalid hours 0"),
    ({"hours": float("inf")}, "invalid hours inf"),
    ({"azs": 0}, "invalid number of Availability Zones 0"),
    ({"azs": 7}, "invalid number of Availability Zones 7"),
    ({"gb": -0.5}, "invalid data volume -0.5"),
    ({"participants": 0}, "invalid number of participants 0"),
])
def test_bad_scenarios_are_refused_with_the_value_and_the_accepted_form(changes, named):
    with pytest.raises(BadInput) as refused:
        Scenario("us-east-1", **changes)
    assert str(refused.value).startswith(named) and "expected" in str(refused.value)


def test_unknown_region_lists_the_known_ones_and_points_to_live():
    with pytest.raises(UnknownRegion) as refused:
        estimate(BOOK, Scenario("mars-1"))
    message = str(refused.value)
    assert "'mars-1'" in message and "ap-northeast-1" in message and "us-west-2" in message and "--live" in message


def test_a_region_without_a_verified_endpoint_price_is_refused_not_guessed():
    with pytest.raises(PriceMissing) as refused:
        estimate(BOOK, Scenario("us-east-2"))
    assert "single source" in str(refused.value) and "--live" in str(refused.value)


def test_unverified_figures_only_on_request_and_said_so():
    result = estimate(PriceBook.offline(unverified=True), Scenario("us-east-2", gb=0))
    assert result.option("ssm").total == pytest.approx(2 * 730 * 0.010)
    assert result.unverified == ("endpoint_hour",)
    assert "single-source figures included" in result.price_source
