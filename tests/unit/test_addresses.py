"""The webhook allowlist's arithmetic: addresses against CIDR ranges, IPv4 and IPv6."""

import pytest

from app.domain.addresses import address_in, parse_network
from app.domain.errors import DomainValidationError


def nets(*texts):
    return [parse_network(t) for t in texts]


@pytest.mark.parametrize(
    ("address", "inside"),
    [
        ("203.0.113.7", True),
        ("203.0.113.255", True),
        ("203.0.114.1", False),
        ("52.89.214.238", True),  # a single address is a /32
        ("52.89.214.239", False),
    ],
)
def test_ipv4_addresses_against_ranges(address, inside):
    assert address_in(address, nets("203.0.113.0/24", "52.89.214.238")) is inside


@pytest.mark.parametrize(
    ("address", "inside"),
    [
        ("2001:db8:1::1", True),
        ("2001:DB8:1:ffff::9", True),
        ("2001:db8:2::1", False),
        ("::1", False),
    ],
)
def test_ipv6_addresses_against_ranges(address, inside):
    assert address_in(address, nets("2001:db8:1::/48")) is inside


def test_ipv4_mapped_ipv6_address_matches_the_ipv4_range():
    """A dual-stack socket reports an IPv4 client as ::ffff:a.b.c.d."""
    assert address_in("::ffff:203.0.113.7", nets("203.0.113.0/24"))
    assert not address_in("::ffff:198.51.100.7", nets("203.0.113.0/24"))
    assert address_in("::ffff:203.0.113.7", nets("::ffff:203.0.113.0/120"))


def test_versions_never_cross():
    assert not address_in("10.0.0.1", nets("::/0"))
    assert not address_in("2001:db8::1", nets("0.0.0.0/0"))


@pytest.mark.parametrize(
    "address",
    [None, "", " ", "not an address", "10.0.0.1/8", "300.1.1.1", "10.0.0.1:80", "fe80::%"],
)
def test_what_is_not_an_address_is_outside_every_range(address):
    assert not address_in(address, nets("0.0.0.0/0", "::/0"))


def test_nothing_is_inside_no_range():
    assert not address_in("10.0.0.1", [])


def test_host_bits_are_allowed_and_dropped():
    assert str(parse_network("10.1.2.3/8")) == "10.0.0.0/8"
    assert str(parse_network(" 2001:db8::1/32 ")) == "2001:db8::/32"
    assert str(parse_network("192.0.2.1")) == "192.0.2.1/32"


@pytest.mark.parametrize(
    "text",
    ["", "   ", "10.0.0.0/33", "2001:db8::/129", "example.com", "10.0.0.0/8/8", "1" * 65, 42],
)
def test_bad_ranges_name_the_field(text):
    with pytest.raises(DomainValidationError) as raised:
        parse_network(text, "webhook_allowlist.0")
    assert raised.value.field == "webhook_allowlist.0"
