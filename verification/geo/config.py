"""Geo configuration: where the databases are (paths) and how strict each check is (rules).

Paths come from flags or ``VERIFICATION_*`` environment variables; a configured path that does
not exist is a startup error naming the variable and the file, never a silent "not checked".
An unconfigured MaxMind database is fine: the IP checks then report ``not_checked``.

Rules have principled defaults (documented next to each value) and can be overridden per
deployment with a TOML file (``VERIFICATION_GEO_RULES``), e.g. a wider radius for farm loans:

    [product_radius_m]
    farm = 5000

    [business_poi_categories]
    tea_house = ["tea", "cafe"]
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from verification.errors import InvalidInputError

ENV_CITY_DB = "VERIFICATION_GEOIP_CITY_DB"
ENV_ASN_DB = "VERIFICATION_GEOIP_ASN_DB"
ENV_ANON_DB = "VERIFICATION_GEOIP_ANON_DB"
ENV_POI_FILE = "VERIFICATION_GEO_POI_FILE"
ENV_RULES = "VERIFICATION_GEO_RULES"
ENV_CHINA_ADMIN = "VERIFICATION_GEO_CHINA_ADMIN"
ENV_TRUSTED_PROXIES = "VERIFICATION_TRUSTED_PROXIES"
ENV_DATA_DIR = "VERIFICATION_DATA_DIR"

GEO_STORE_FILENAME = "geo_history.sqlite3"

# Business type -> POI categories that fit it. Categories follow OpenStreetMap tag values
# (amenity=*, shop=*, craft=*, office=*), the vocabulary most POI exports use.
DEFAULT_BUSINESS_CATEGORIES: dict[str, tuple[str, ...]] = {
    "restaurant": ("restaurant", "fast_food", "cafe", "food_court", "canteen", "bar", "pub",
                   "noodle_shop", "bakery"),
    "cafe": ("cafe", "coffee", "tea", "bakery", "restaurant"),
    "grocery": ("convenience", "supermarket", "grocery", "greengrocer", "marketplace",
                "butcher", "seafood", "general"),
    "retail": ("clothes", "shoes", "mobile_phone", "electronics", "variety_store", "gift",
               "department_store", "mall", "marketplace", "convenience", "general", "hardware"),
    "machine_shop": ("machine_shop", "metal_construction", "industrial", "hardware",
                     "car_repair", "workshop", "welder"),
    "car_repair": ("car_repair", "car_parts", "tyres", "car_wash", "motorcycle_repair"),
    "beauty_salon": ("hairdresser", "beauty", "cosmetics", "massage", "nail_salon"),
    "logistics": ("warehouse", "logistics", "courier", "post_depot", "industrial"),
    "office": ("office", "company", "coworking", "commercial", "it", "consulting"),
    "farm": ("farm", "farmyard", "farmland", "agricultural", "greenhouse", "orchard"),
    "pharmacy": ("pharmacy", "chemist", "medical_supply", "clinic"),
}


@dataclass(frozen=True)
class GeoRules:
    """Thresholds of every geo check. Each default says why it is what it is."""

    # A shop's door, its back room and GPS error indoors (20-50 m) fit well inside 500 m; a
    # product can widen it (a farm loan) or tighten it (a market stall) by name.
    default_radius_m: float = 500.0
    product_radius_m: Mapping[str, float] = field(default_factory=lambda: {
        "shop": 300.0, "market_stall": 200.0, "restaurant": 300.0, "farm": 5000.0,
        "logistics": 2000.0})
    # Beyond this the fix cannot tell "at the shop" from "in the neighbourhood" (approximate
    # location on iOS / Android reports 1-10 km).
    max_useful_accuracy_m: float = 1500.0
    # Real phone fixes report >= ~3 m (the W3C accuracy is a 95 % radius); 0 or sub-metre
    # accuracy is what mock-location apps report.
    min_plausible_accuracy_m: float = 1.0
    # Coordinates with <= this many decimals in both lat and lon (~110 m) while claiming
    # GPS-grade accuracy were typed in, not measured (a real fix rounds to that by chance with
    # probability ~1e-6).
    rounded_max_decimals: int = 3
    rounded_check_below_accuracy_m: float = 100.0
    # Frozen fixes: this many fixes over at least this long, all bit-identical (coordinates and
    # accuracy), while claiming GPS-grade accuracy: a live GPS always jitters.
    frozen_min_fixes: int = 3
    frozen_min_span_s: float = 10.0
    frozen_check_below_accuracy_m: float = 25.0
    # Impossible travel: faster than an airliner (~900 km/h cruise) between two sessions of one
    # applicant or device, after giving both fixes their accuracy; short hops are ignored so a
    # single bad fix cannot trigger it.
    max_travel_speed_kmh: float = 1000.0
    min_travel_excess_km: float = 25.0
    history_window_days: float = 90.0
    # IP location: a city-level IP fix is good to its accuracy radius; mobile carriers egress
    # through regional gateways, so anything within this much more counts as the same area.
    ip_city_slack_km: float = 100.0
    # Chinese admin division by nearest county seat (Voronoi cells): a mismatch is only
    # believed when the declared unit's nearest seat is this many times farther than the
    # nearest seat overall (plus the fix's accuracy); closer calls are borderline.
    admin_ambiguity_ratio: float = 1.5
    admin_max_seat_distance_km: float = 150.0
    # Location clusters: H3 resolution 9 cells (~0.1 km^2) plus their ring of neighbours, then
    # an exact distance filter; this many *other* applicants within the window is a cluster.
    cluster_h3_resolution: int = 9
    cluster_radius_m: float = 200.0
    cluster_window_days: float = 30.0
    cluster_min_other_applicants: int = 2
    cluster_list_limit: int = 20
    # POIs: at most this many nearest points are listed.
    poi_list_limit: int = 5
    business_poi_categories: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_BUSINESS_CATEGORIES))

    def __post_init__(self) -> None:
        object.__setattr__(self, "product_radius_m",
                           MappingProxyType({k.lower(): float(v)
                                             for k, v in self.product_radius_m.items()}))
        object.__setattr__(self, "business_poi_categories", MappingProxyType({
            k.lower(): tuple(c.lower() for c in v)
            for k, v in self.business_poi_categories.items()}))

    def radius_for(self, product: str | None) -> float:
        if product and product.lower() in self.product_radius_m:
            return self.product_radius_m[product.lower()]
        return self.default_radius_m

    @classmethod
    def from_toml(cls, path: Path) -> GeoRules:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise InvalidInputError(f"geo rules file {path} ({ENV_RULES} / --rules): "
                                    f"cannot read ({err.strerror})") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise InvalidInputError(f"geo rules file {path}: not valid TOML ({err})") from None
        return cls().with_overrides(raw, source=str(path))

    def with_overrides(self, raw: Mapping[str, Any], source: str = "rules") -> GeoRules:
        known = {f.name: f for f in fields(self)}
        changes: dict[str, Any] = {}
        for key, value in raw.items():
            if key not in known:
                raise InvalidInputError(f"geo rules {source}: unknown setting {key!r}")
            current = getattr(self, key)
            if isinstance(current, Mapping):
                if not isinstance(value, Mapping):
                    raise InvalidInputError(f"geo rules {source}: {key} must be a table")
                merged = dict(current)
                merged.update(value)
                changes[key] = merged
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInputError(f"geo rules {source}: {key} must be a number")
            else:
                changes[key] = type(current)(value)
        return replace(self, **changes)


@dataclass(frozen=True)
class GeoConfig:
    """Where the geo stage's data lives. ``None`` means "not configured"."""

    city_db: Path | None = None
    asn_db: Path | None = None
    anon_db: Path | None = None
    poi_file: Path | None = None
    china_admin_file: Path | None = None  # None: the copy shipped inside the package
    data_dir: Path | None = None  # None: no history (no impossible travel, no clusters)
    trusted_proxies: tuple[str, ...] = ()
    rules: GeoRules = field(default_factory=GeoRules)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *,
                 default_data_dir: Path | None = Path("./data"),
                 **overrides: Any) -> GeoConfig:
        """Environment first, explicit (non-None) overrides win; a rules file is loaded here."""
        env = os.environ if environ is None else environ

        def path(name: str) -> Path | None:
            value = env.get(name, "").strip()
            return Path(value) if value else None

        data_dir = path(ENV_DATA_DIR) or default_data_dir
        values: dict[str, Any] = {
            "city_db": path(ENV_CITY_DB),
            "asn_db": path(ENV_ASN_DB),
            "anon_db": path(ENV_ANON_DB),
            "poi_file": path(ENV_POI_FILE),
            "china_admin_file": path(ENV_CHINA_ADMIN),
            "data_dir": data_dir,
            "trusted_proxies": tuple(p for p in env.get(ENV_TRUSTED_PROXIES, "").split(",")
                                     if p.strip()),
        }
        rules_path = overrides.pop("rules_file", None) or path(ENV_RULES)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if rules_path is not None:
            values["rules"] = GeoRules.from_toml(Path(rules_path))
        return cls(**values)
