"""A points-of-interest data set (business points with categories) and radius queries on it.

Loaded once from the configured file (``VERIFICATION_GEO_POI_FILE``), in either format:

* GeoJSON ``FeatureCollection`` of ``Point`` features whose properties have ``name`` and
  ``category`` (or an OpenStreetMap-style ``amenity`` / ``shop`` / ``craft`` / ``office`` tag);
* CSV with a header naming ``name``, ``category`` and ``lat``/``latitude`` and
  ``lon``/``lng``/``longitude`` columns.

Coordinates are WGS-84 (OpenStreetMap's datum). Points are kept sorted by latitude, so a radius
query is a binary search for the latitude band plus one vectorised pass over that band - fast
for a city's worth of points and still bounded for a country's.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from verification.geo.config import ENV_POI_FILE
from verification.geo.distance import EARTH_RADIUS_M, haversine_many_m, valid_coordinates
from verification.geo.errors import GeoDataError

log = logging.getLogger(__name__)

_SETTING = f"POI file ({ENV_POI_FILE} / --poi-file)"
_CATEGORY_KEYS = ("category", "amenity", "shop", "craft", "office", "industrial", "type")


@dataclass(frozen=True)
class Poi:
    name: str
    category: str
    lat: float
    lon: float


@dataclass(frozen=True)
class NearbyPoi:
    poi: Poi
    distance_m: float


def normalise_category(value: str) -> str:
    value = value.strip().lower()
    if "=" in value:  # "amenity=restaurant"
        value = value.split("=", 1)[1]
    return value.replace(" ", "_").replace("-", "_")


def _category(props: dict[str, Any]) -> str | None:
    for key in _CATEGORY_KEYS:
        value = props.get(key)
        if isinstance(value, str) and value.strip():
            return normalise_category(value)
    return None


def _from_geojson(data: Any, path: Path) -> tuple[list[Poi], int]:
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" \
            or not isinstance(data.get("features"), list):
        raise GeoDataError(f"{_SETTING}: {path} is not a GeoJSON FeatureCollection")
    pois, skipped = [], 0
    for feature in data["features"]:
        geometry = (feature or {}).get("geometry") or {}
        props = (feature or {}).get("properties") or {}
        coords = geometry.get("coordinates")
        category = _category(props)
        if geometry.get("type") != "Point" or not isinstance(coords, list) or len(coords) < 2 \
                or category is None:
            skipped += 1
            continue
        lon, lat = coords[0], coords[1]
        if not all(isinstance(v, int | float) for v in (lat, lon)) \
                or not valid_coordinates(lat, lon):
            skipped += 1
            continue
        pois.append(Poi(str(props.get("name") or ""), category, float(lat), float(lon)))
    return pois, skipped


def _column(header: list[str], *names: str) -> str | None:
    lowered = {h.strip().lower(): h for h in header}
    return next((lowered[n] for n in names if n in lowered), None)


def _from_csv(path: Path) -> tuple[list[Poi], int]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        lat_col = _column(header, "lat", "latitude")
        lon_col = _column(header, "lon", "lng", "longitude")
        cat_col = _column(header, *_CATEGORY_KEYS)
        name_col = _column(header, "name")
        if lat_col is None or lon_col is None or cat_col is None:
            raise GeoDataError(f"{_SETTING}: {path} needs lat, lon and category columns, "
                               f"has {header}")
        pois, skipped = [], 0
        for row in reader:
            try:
                lat, lon = float(row[lat_col]), float(row[lon_col])
            except (TypeError, ValueError):
                skipped += 1
                continue
            category = normalise_category(row.get(cat_col) or "")
            if not category or not valid_coordinates(lat, lon):
                skipped += 1
                continue
            pois.append(Poi((row.get(name_col) or "") if name_col else "", category, lat, lon))
    return pois, skipped


class PoiIndex:
    def __init__(self, pois: list[Poi], source: str = "memory") -> None:
        order = sorted(range(len(pois)), key=lambda i: pois[i].lat)
        self._pois = [pois[i] for i in order]
        self._lats = np.array([p.lat for p in self._pois], dtype=np.float64)
        self._lons = np.array([p.lon for p in self._pois], dtype=np.float64)
        self.source = source

    def __len__(self) -> int:
        return len(self._pois)

    @classmethod
    def load(cls, path: Path) -> PoiIndex:
        if not path.is_file():
            raise GeoDataError(f"{_SETTING}: POI file {path} not found")
        try:
            if path.suffix.lower() in (".geojson", ".json"):
                pois, skipped = _from_geojson(json.loads(path.read_text(encoding="utf-8")), path)
            elif path.suffix.lower() == ".csv":
                pois, skipped = _from_csv(path)
            else:
                raise GeoDataError(f"{_SETTING}: {path} must be .geojson, .json or .csv")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as err:
            raise GeoDataError(f"{_SETTING}: cannot read POI file {path} ({err})") from None
        if not pois:
            raise GeoDataError(f"{_SETTING}: {path} has no usable POI (points with a "
                               f"category); {skipped} entries skipped")
        if skipped:
            log.warning("POI file %s: %d entries without a point or category skipped",
                        path, skipped)
        return cls(pois, str(path))

    def within(self, lat: float, lon: float, radius_m: float) -> list[NearbyPoi]:
        """Points within ``radius_m`` of (lat, lon), nearest first."""
        if not self._pois:
            return []
        dlat = math.degrees(radius_m / EARTH_RADIUS_M)
        lo = int(np.searchsorted(self._lats, lat - dlat, side="left"))
        hi = int(np.searchsorted(self._lats, lat + dlat, side="right"))
        if lo >= hi:
            return []
        dist = haversine_many_m(lat, lon, self._lats[lo:hi], self._lons[lo:hi])
        hits = np.nonzero(dist <= radius_m)[0]
        hits = hits[np.argsort(dist[hits], kind="stable")]
        return [NearbyPoi(self._pois[lo + int(i)], float(dist[i])) for i in hits]
