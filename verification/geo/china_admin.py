"""Chinese administrative divisions: which county a GPS point is in, and which one an address
names.

**Point -> division, by nearest county seat.** The shipped data (``cpca`` adcodes, national
statistics bureau codes) gives each unit a seat coordinate, not a boundary polygon. A point is
assigned to the unit of its nearest seat - the Voronoi cell of the seats, a standard
polygon-free approximation of administrative boundaries. It is right in the interior of units
and uncertain near borders, so the comparison with a declared unit is graded: a mismatch counts
only when the declared unit's nearest seat is clearly farther (``admin_ambiguity_ratio`` times the
nearest seat's distance, plus the fix's accuracy); anything closer is "borderline". The seats'
own datum (GCJ-02 vs WGS-84, < 1 km apart) is immaterial at this scale.

**Address -> division, by name matching.** Province, prefecture and county names (full names,
plus the short names people write: 吉林 for 吉林省, 延边 for 延边朝鲜族自治州) are looked up in
the address; the reading whose names form one consistent province -> city -> county chain with
the most levels wins ("北京市朝阳区" is Beijing's 朝阳区, not Changchun's). A county name alone
that exists in several provinces is ambiguous and reported as such.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from verification.geo.config import ENV_CHINA_ADMIN
from verification.geo.distance import haversine_many_m
from verification.geo.errors import GeoDataError

log = logging.getLogger(__name__)

PACKAGED_ADMIN_FILE = Path(__file__).with_name("data") / "cn_admin_units.csv"
LEVELS = ("province", "city", "county")

_PROVINCE_SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区", "自治区",
                      "省", "市")
_CITY_SUFFIXES = ("地区", "市", "盟")
_ETHNIC = ("朝鲜族", "土家族", "布依族", "傈僳族", "哈尼族", "景颇族", "柯尔克孜", "哈萨克",
           "蒙古族", "蒙古", "藏族", "羌族", "苗族", "彝族", "回族", "白族", "壮族", "侗族", "傣族")
_PLACEHOLDER_NAMES = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}


@dataclass(frozen=True)
class AdminUnit:
    code: str  # 2 (province), 4 (city) or 6 (county) digits
    name: str
    lat: float | None
    lon: float | None

    @property
    def level(self) -> str:
        return LEVELS[len(self.code) // 2 - 1]


@dataclass(frozen=True)
class AdminPath:
    """Province / city / county codes and names (each may be ``None``)."""

    province: AdminUnit | None
    city: AdminUnit | None
    county: AdminUnit | None

    def unit(self, level: str) -> AdminUnit | None:
        return getattr(self, level)

    @property
    def deepest(self) -> str | None:
        return next((lv for lv in reversed(LEVELS) if self.unit(lv) is not None), None)

    def to_json(self) -> dict[str, dict[str, str] | None]:
        return {lv: ({"code": u.code, "name": u.name} if (u := self.unit(lv)) else None)
                for lv in LEVELS}


@dataclass(frozen=True)
class PointDivision:
    path: AdminPath
    seat_distance_km: float


@dataclass(frozen=True)
class AddressDivision:
    path: AdminPath | None  # None: no Chinese division named, or ambiguous
    candidates: tuple[AdminPath, ...] = ()  # the tied readings when ambiguous


def _code6(adcode: str) -> str:
    return adcode.strip()[:6]


def _unit_code(code6: str) -> str:
    if code6[2:] == "0000":
        return code6[:2]
    if code6[4:] == "00":
        return code6[:4]
    return code6


def _short_names(unit: AdminUnit) -> set[str]:
    names = set()
    suffixes = _PROVINCE_SUFFIXES if unit.level == "province" else (
        _CITY_SUFFIXES if unit.level == "city" else ())
    for suffix in suffixes:
        if unit.name.endswith(suffix) and len(unit.name) - len(suffix) >= 2:
            names.add(unit.name[: -len(suffix)])
    if unit.level == "city" and unit.name.endswith("自治州"):
        cut = min((i for e in _ETHNIC if (i := unit.name.find(e)) >= 2), default=None)
        if cut is not None:
            names.update({unit.name[:cut], unit.name[:cut] + "州"})  # 延边, 延边州
    return names


class ChinaAdminIndex:
    """Seats of every unit as arrays (a nearest-seat query is one vectorised pass, ~50 us),
    and a name index for addresses."""

    def __init__(self, units: dict[str, AdminUnit]) -> None:
        self.units = units
        with_point = [u for u in units.values() if u.lat is not None and u.lon is not None]
        has_child = {u.code[:-2] for u in with_point if len(u.code) > 2}
        has_child |= {u.code[:2] for u in with_point if len(u.code) == 6}
        seats = [u for u in with_point if u.code not in has_child]  # leaves with a seat
        self._seats = seats
        self._lats = np.array([u.lat for u in seats], dtype=np.float64)
        self._lons = np.array([u.lon for u in seats], dtype=np.float64)
        self._codes = np.array([u.code.ljust(6, "0") for u in seats])
        self._names: dict[str, list[tuple[AdminUnit, bool]]] = {}
        for unit in units.values():
            if unit.name in _PLACEHOLDER_NAMES:
                continue
            self._names.setdefault(unit.name, []).append((unit, True))
            for short in _short_names(unit):
                self._names.setdefault(short, []).append((unit, False))
        self.max_name_len = max((len(name) for name in self._names), default=2)
        log.debug("china admin index: %d units, %d seats", len(units), len(seats))

    @classmethod
    def load(cls, path: Path | None = None) -> ChinaAdminIndex:
        """The ``adcode,name,longitude,latitude`` CSV (``cpca``'s format, 12-digit codes)."""
        path = path or PACKAGED_ADMIN_FILE
        setting = ENV_CHINA_ADMIN if path != PACKAGED_ADMIN_FILE else "packaged data"
        if not path.is_file():
            raise GeoDataError(f"{setting}: China admin division file {path} not found")
        units: dict[str, AdminUnit] = {}
        try:
            with path.open(encoding="utf-8", newline="") as handle:
                for row in csv.DictReader(handle):
                    code = _unit_code(_code6(row["adcode"]))
                    lon, lat = row.get("longitude") or "", row.get("latitude") or ""
                    units[code] = AdminUnit(code, row["name"].strip(),
                                            float(lat) if lat else None,
                                            float(lon) if lon else None)
        except (KeyError, ValueError, UnicodeDecodeError, csv.Error) as err:
            raise GeoDataError(f"{setting}: {path} is not an adcode,name,longitude,latitude "
                               f"CSV ({type(err).__name__}: {err})") from None
        if not units:
            raise GeoDataError(f"{setting}: {path} has no admin units")
        return cls(units)

    # -- structure -----------------------------------------------------------------------
    def path_of(self, code: str) -> AdminPath:
        code = _unit_code(code.ljust(6, "0"))
        return AdminPath(self.units.get(code[:2]),
                         self.units.get(code[:4]) if len(code) >= 4 else None,
                         self.units.get(code) if len(code) == 6 else None)

    # -- point -> division ------------------------------------------------------------------
    def nearest(self, lat: float, lon: float) -> PointDivision:
        dist = haversine_many_m(lat, lon, self._lats, self._lons)
        i = int(np.argmin(dist))
        return PointDivision(self.path_of(self._seats[i].code), float(dist[i]) / 1000.0)

    def nearest_within(self, lat: float, lon: float, unit: AdminUnit) -> float | None:
        """Distance in km from the point to the nearest seat inside ``unit`` (any level)."""
        prefix = unit.code
        mask = np.char.startswith(self._codes, prefix)
        if not mask.any():
            return None
        dist = haversine_many_m(lat, lon, self._lats[mask], self._lons[mask])
        return float(dist.min()) / 1000.0

    # -- address -> division -----------------------------------------------------------------
    def parse_address(self, address: str) -> AddressDivision:
        return _parse_cached(self, "".join(address.split()))


@lru_cache(maxsize=1024)
def _parse_cached(index: ChinaAdminIndex, text: str) -> AddressDivision:
    spans: list[tuple[int, int, AdminUnit, bool]] = []
    for start in range(len(text)):
        for length in range(min(index.max_name_len, len(text) - start), 1, -1):
            for unit, full in index._names.get(text[start:start + length], ()):
                spans.append((start, start + length, unit, full))
    matched: dict[str, int] = {}  # unit code -> strength (2 full name, 1 short name)
    for start, end, unit, full in spans:
        # A name inside a longer name is not a mention: 宁县 in 正宁县, 澧县 in 临澧县.
        if any(s <= start and end <= e and e - s > end - start for s, e, _, _ in spans):
            continue
        matched[unit.code] = max(matched.get(unit.code, 0), 2 if full else 1)
    if not matched:
        return AddressDivision(None)

    best: dict[tuple[str, ...], tuple[int, int, int]] = {}
    for code in matched:
        path = index.path_of(code)
        chain = [u for u in (path.province, path.city, path.county) if u is not None]
        levels = sum(1 for u in chain if u.code in matched)
        # A municipality's city level is a placeholder (北京市 -> 市辖区): naming the province
        # names the city.
        if path.city is not None and path.city.name in _PLACEHOLDER_NAMES and path.province \
                and path.province.code in matched:
            levels += 1
        strength = sum(matched.get(u.code, 0) for u in chain)
        key = tuple(u.code for u in chain)
        best[key] = max(best.get(key, (0, 0, 0)), (levels, len(key), strength))
    top = max(best.values())
    winners = [key for key, score in best.items() if score == top]
    paths = tuple(index.path_of(key[-1]) for key in winners)
    if len(paths) == 1:
        return AddressDivision(paths[0])
    # Ties: keep what all readings share (e.g. the province), report the rest as ambiguous.
    common = None
    for level in LEVELS:
        units = {p.unit(level).code if p.unit(level) else None for p in paths}
        if len(units) != 1 or None in units:
            break
        common = next(iter(units))
    return AddressDivision(index.path_of(common) if common else None, paths)
