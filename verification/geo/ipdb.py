"""IP geolocation from MaxMind DB files (GeoIP2 / GeoLite2 City, ASN and Anonymous-IP).

The databases are opened once per process (memory-mapped by ``maxminddb``; a lookup is a few
microseconds) and checked at startup: a configured file that is missing, not a MaxMind DB, or
of the wrong kind (an ASN database where the City one belongs) is a :class:`GeoDataError`
naming the file and its setting, so a typo in a path never silently turns the check off.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import maxminddb

from verification.geo.config import ENV_ANON_DB, ENV_ASN_DB, ENV_CITY_DB
from verification.geo.errors import GeoDataError

log = logging.getLogger(__name__)

# Anonymous-IP database flags -> the names evidence uses.
ANONYMIZER_FLAGS = {
    "is_anonymous_vpn": "vpn",
    "is_hosting_provider": "hosting",
    "is_tor_exit_node": "tor",
    "is_public_proxy": "public_proxy",
    "is_residential_proxy": "residential_proxy",
}


@dataclass(frozen=True)
class IpLocation:
    country: str | None  # ISO 3166-1 alpha-2
    country_name: str | None
    city: str | None  # English name
    city_local: str | None  # zh-CN name when the database has one
    subdivision: str | None
    lat: float | None
    lon: float | None
    accuracy_radius_km: float | None
    time_zone: str | None


@dataclass(frozen=True)
class IpLookup:
    """What the configured databases say about one address.

    ``status``: ``ok`` (a public address), ``invalid`` (not an IP address), ``private``
    (loopback / private / reserved: a proxy in front of the server that is not configured as
    trusted), ``missing`` (no address was given).
    ``location`` / ``asn`` / ``anonymizer`` are ``None`` when that database is not configured
    or has no entry; ``*_configured`` tells the two apart.
    """

    ip: str | None
    status: str
    location: IpLocation | None = None
    asn: int | None = None
    asn_org: str | None = None
    anonymizer: tuple[str, ...] | None = None
    city_configured: bool = False
    asn_configured: bool = False
    anon_configured: bool = False


def _open(path: Path | None, setting: str, kinds: tuple[str, ...]) -> maxminddb.Reader | None:
    if path is None:
        return None
    if not path.is_file():
        raise GeoDataError(f"{setting}: MaxMind database {path} not found")
    try:
        reader = maxminddb.open_database(str(path))
    except (maxminddb.InvalidDatabaseError, OSError, ValueError) as err:
        raise GeoDataError(f"{setting}: {path} is not a readable MaxMind DB file ({err})") from None
    kind = reader.metadata().database_type
    if not any(k in kind for k in kinds):
        reader.close()
        raise GeoDataError(f"{setting}: {path} is a {kind} database, expected "
                           f"{' or '.join(kinds)}")
    log.info("opened %s (%s) for %s", path, kind, setting)
    return reader


def _name(record: dict[str, Any], key: str, lang: str = "en") -> str | None:
    names = (record.get(key) or {}).get("names") or {}
    return names.get(lang)


def _location(record: dict[str, Any]) -> IpLocation:
    loc = record.get("location") or {}
    subdivisions = record.get("subdivisions") or []
    radius = loc.get("accuracy_radius")
    return IpLocation(
        country=(record.get("country") or {}).get("iso_code"),
        country_name=_name(record, "country"),
        city=_name(record, "city"),
        city_local=_name(record, "city", "zh-CN"),
        subdivision=((subdivisions[0].get("names") or {}).get("en") if subdivisions else None),
        lat=loc.get("latitude"),
        lon=loc.get("longitude"),
        accuracy_radius_km=float(radius) if radius is not None else None,
        time_zone=loc.get("time_zone"),
    )


class IpDatabases:
    """The three MaxMind databases, any of which may be absent (then its checks say so)."""

    def __init__(self, city_db: Path | None = None, asn_db: Path | None = None,
                 anon_db: Path | None = None) -> None:
        self._city = _open(city_db, f"City database ({ENV_CITY_DB} / --city-db)",
                           ("City", "Country", "Enterprise"))
        self._asn = _open(asn_db, f"ASN database ({ENV_ASN_DB} / --asn-db)", ("ASN", "ISP"))
        self._anon = _open(anon_db, f"Anonymous-IP database ({ENV_ANON_DB} / --anon-db)",
                           ("Anonymous",))
        self.paths = {"city": city_db, "asn": asn_db, "anon": anon_db}

    @property
    def configured(self) -> bool:
        return any(r is not None for r in (self._city, self._asn, self._anon))

    def lookup(self, ip: str | None) -> IpLookup:
        flags = {"city_configured": self._city is not None,
                 "asn_configured": self._asn is not None,
                 "anon_configured": self._anon is not None}
        if ip is None:
            return IpLookup(None, "missing", **flags)
        try:
            address = ipaddress.ip_address(ip.strip())
        except ValueError:
            return IpLookup(ip, "invalid", **flags)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global:
            return IpLookup(str(address), "private", **flags)
        key = str(address)
        location = None
        if self._city is not None:
            record = self._city.get(key)
            location = _location(record) if isinstance(record, dict) and record else None
        asn = asn_org = None
        if self._asn is not None:
            record = self._asn.get(key)
            if isinstance(record, dict):
                asn = record.get("autonomous_system_number")
                asn_org = record.get("autonomous_system_organization") or record.get("isp")
        anonymizer = None
        if self._anon is not None:
            record = self._anon.get(key)
            record = record if isinstance(record, dict) else {}
            anonymizer = tuple(name for flag, name in ANONYMIZER_FLAGS.items() if record.get(flag))
            if record.get("is_anonymous") and not anonymizer:
                anonymizer = ("anonymous",)
        return IpLookup(key, "ok", location, asn, asn_org, anonymizer, **flags)

    def close(self) -> None:
        for reader in (self._city, self._asn, self._anon):
            if reader is not None:
                reader.close()
