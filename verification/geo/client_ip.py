"""The client's IP address as the server should believe it.

``X-Forwarded-For`` is a list each proxy appends to; anybody can send one with any content, so
it is honoured only hop by hop from the right: while the address that handed us the request is
a configured trusted proxy, step one entry left. The first untrusted address is the client.
Without trusted proxies the header is ignored and the TCP peer is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from verification.errors import InvalidInputError

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted_proxies(values: Iterable[str]) -> tuple[IpNetwork, ...]:
    """Addresses or CIDR networks (``10.0.0.0/8``, ``::1``); a bad entry is a startup error."""
    networks = []
    for value in values:
        value = value.strip()
        if not value:
            continue
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise InvalidInputError(f"trusted proxy {value!r} is not an IP address or network "
                                    "(VERIFICATION_TRUSTED_PROXIES)") from None
    return tuple(networks)


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip().strip('"')
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1:value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:51234"
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address,
             trusted: Sequence[IpNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def resolve_client_ip(peer: str, forwarded_for: str | None,
                      trusted: Sequence[IpNetwork]) -> str:
    """The client address for a request from ``peer`` carrying ``X-Forwarded-For``.

    Returns the peer itself when it is not a trusted proxy (the header is then attacker
    controlled), otherwise the right-most entry that is not a trusted proxy. A malformed entry
    stops the walk: everything left of it is untrustworthy, so the last good hop is returned.
    """
    current = _parse(peer)
    if current is None:
        return peer.strip()
    if not forwarded_for or not _trusted(current, trusted):
        return str(current)
    for entry in reversed(forwarded_for.split(",")):
        hop = _parse(entry)
        if hop is None:
            break
        current = hop
        if not _trusted(current, trusted):
            break
    return str(current)
