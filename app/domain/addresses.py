"""Source addresses against CIDR ranges: the webhook allowlist's arithmetic, pure.

A caller that cannot tell who is calling must refuse, so every malformed address is
outside every range rather than an error."""

import ipaddress
import logging
from collections.abc import Iterable

from app.domain.errors import DomainValidationError

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_TEXT = 64  # the longest IPv6 range with a prefix is 43 characters


def parse_network(text: str, field: str = "network") -> Network:
    """One address or CIDR range, host bits allowed ("10.1.2.3/8" is 10.0.0.0/8), as a
    trader types it."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        raise DomainValidationError(field, "is not an IP address or CIDR range")
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise DomainValidationError(field, "is not an IP address or CIDR range") from None


def address_in(address: str | None, networks: Iterable[Network]) -> bool:
    """True when `address` lies in one of `networks`. An IPv4 address seen through a
    dual-stack socket (``::ffff:1.2.3.4``) matches IPv4 ranges too; anything that is not an
    address matches nothing."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    candidates = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        candidates.append(ip.ipv4_mapped)
    return any(
        candidate.version == network.version and candidate in network
        for network in networks
        for candidate in candidates
    )
