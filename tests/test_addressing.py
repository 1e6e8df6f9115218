"""Address planning: private ranges only, subnets inside the VPC, AWS's prefix limits."""

import pytest

from ssmlab import addressing
from ssmlab.errors import BadInput


@pytest.mark.parametrize("cidr", ["10.0.0.0/16", "172.31.0.0/16", "192.168.10.0/24", "10.20.30.0/28"])
def test_private_vpc_cidrs_are_accepted(cidr):
    assert str(addressing.vpc_cidr(cidr)) == cidr


@pytest.mark.parametrize(
    "cidr, words",
    [
        ("8.8.0.0/16", "private range"),
        ("172.32.0.0/16", "private range"),
        ("10.0.0.0/8", "/16 to /28"),
        ("10.0.0.0/29", "/16 to /28"),
        ("10.0.0.1/16", "network address"),
        ("not-a-cidr", "network address"),
        ("fd00::/56", "IPv4"),
    ],
)
def test_bad_vpc_cidrs_name_the_value_and_the_accepted_form(cidr, words):
    with pytest.raises(BadInput) as error:
        addressing.vpc_cidr(cidr)
    assert repr(cidr) in str(error.value)
    assert words in str(error.value)
    assert "\n" not in str(error.value)


def test_subnets_are_carved_as_consecutive_blocks_eight_bits_longer():
    assert addressing.subnet_cidrs("10.0.0.0/16", 3) == ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]
    assert addressing.subnet_cidrs("192.168.0.0/24", 2) == ["192.168.0.0/28", "192.168.0.16/28"]


def test_requested_subnets_must_lie_inside_the_vpc_and_not_overlap():
    assert addressing.subnet_cidrs("10.0.0.0/16", 1, ["10.0.128.0/20"]) == ["10.0.128.0/20"]
    with pytest.raises(BadInput, match=r"'10\.1\.0\.0/24'.*inside the VPC's 10\.0\.0\.0/16"):
        addressing.subnet_cidrs("10.0.0.0/16", 1, ["10.1.0.0/24"])
    with pytest.raises(BadInput, match="must not overlap"):
        addressing.subnet_cidrs("10.0.0.0/16", 2, ["10.0.0.0/23", "10.0.1.0/24"])
    with pytest.raises(BadInput, match="expected 2 \\(one per AZ\\)"):
        addressing.subnet_cidrs("10.0.0.0/16", 2, ["10.0.0.0/24"])


def test_a_vpc_too_small_for_the_subnets_is_refused():
    with pytest.raises(BadInput, match="too small"):
        addressing.subnet_cidrs("10.0.0.0/28", 2)
