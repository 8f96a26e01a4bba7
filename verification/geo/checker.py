"""The geo stage: every LBS and POI check of one session update, in well under 5 ms.

Everything expensive happens once, in :meth:`GeoChecker.from_config`: the MaxMind databases are
memory-mapped, the time-zone polygons and the county-seat and POI arrays are loaded, the history
file is opened. A check is then a handful of microsecond lookups plus a few indexed SQLite
queries, so it can run on every GPS update of a live interview.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from verification.geo.checks.context import GeoFacts, GeoResources
from verification.geo.checks.gps import check_plausibility, check_presence
from verification.geo.checks.history import cell_of, check_cluster, check_travel
from verification.geo.checks.network import check_ip_anonymizer, check_ip_location
from verification.geo.checks.place import (
    check_admin_division,
    check_declared_distance,
    check_poi_category,
)
from verification.geo.checks.timezone import check_timezone
from verification.geo.china_admin import ChinaAdminIndex
from verification.geo.client_ip import parse_trusted_proxies
from verification.geo.config import GEO_STORE_FILENAME, GeoConfig
from verification.geo.errors import GeoDataError
from verification.geo.inputs import GeoInput, parse_geo_input
from verification.geo.ipdb import IpDatabases
from verification.geo.outcome import GeoReport, decide
from verification.geo.poi import PoiIndex
from verification.geo.store import GeoHistoryStore, StoredSession
from verification.geo.timezones import TimeZoneLookup
from verification.types import Check, Evidence, Outcome, TimeWindow

log = logging.getLogger(__name__)

CHECKS: tuple[Callable[[GeoFacts], list[Evidence]], ...] = (
    check_presence,
    check_plausibility,
    check_ip_location,
    check_ip_anonymizer,
    check_timezone,
    check_travel,
    check_cluster,
    check_declared_distance,
    check_admin_division,
    check_poi_category,
)
# Geo evidence is about the whole session, not a moment of its media.
_NO_MEDIA_TIME = TimeWindow(0.0, 0.0)
_POI_CHECKS = {check_declared_distance, check_admin_division, check_poi_category}
_CHECK_OF = {c: Check.POI if c in _POI_CHECKS else Check.LBS for c in CHECKS}


@lru_cache(maxsize=1)
def shared_timezones() -> TimeZoneLookup:
    """One polygon set per process, however many checkers are built (tests build many)."""
    return TimeZoneLookup()


@lru_cache(maxsize=4)
def shared_admin_index(path: Path | None) -> ChinaAdminIndex:
    return ChinaAdminIndex.load(path)


class GeoChecker:
    def __init__(self, resources: GeoResources, trusted_proxies: tuple = ()) -> None:
        self.resources = resources
        self._trusted = trusted_proxies

    @classmethod
    def from_config(cls, config: GeoConfig) -> GeoChecker:
        """Load everything once; a configured file that is unusable raises ``GeoDataError``
        naming it (checked before anything slow is loaded)."""
        trusted = parse_trusted_proxies(config.trusted_proxies)
        ip = IpDatabases(config.city_db, config.asn_db, config.anon_db)
        poi = PoiIndex.load(config.poi_file) if config.poi_file is not None else None
        admin = shared_admin_index(config.china_admin_file)
        store = (GeoHistoryStore(config.data_dir / GEO_STORE_FILENAME)
                 if config.data_dir is not None else None)
        resources = GeoResources(config.rules, shared_timezones(), ip, admin, poi, store)
        log.info("geo stage ready: ip databases %s, poi %s, history %s",
                 {k: str(v) for k, v in ip.paths.items() if v}, len(poi) if poi else None,
                 store.path if store else None)
        return cls(resources, trusted)

    def parse(self, raw: Mapping[str, Any], *, session_id: str | None = None,
              now: float | None = None) -> GeoInput:
        return parse_geo_input(raw, session_id=session_id, now=now,
                               trusted_proxies=self._trusted)

    def _facts(self, inp: GeoInput, window: TimeWindow) -> GeoFacts:
        res = self.resources
        gps_zone = res.timezones.at(inp.gps.lat, inp.gps.lon) if inp.gps else None
        declared = inp.declared
        declared_zone = (res.timezones.at(declared.lat, declared.lon)  # type: ignore[arg-type]
                         if declared.has_point and inp.gps is None else None)
        admin_point = res.admin.nearest(inp.gps.lat, inp.gps.lon) if inp.gps else None
        return GeoFacts(inp, res, window, gps_zone, declared_zone, res.ip.lookup(inp.ip),
                        admin_point)

    def check(self, geo: Mapping[str, Any] | GeoInput, *, session_id: str | None = None,
              now: float | None = None, record: bool = True,
              window: TimeWindow = _NO_MEDIA_TIME) -> GeoReport:
        """All geo checks for one session update; the fix is then stored for later sessions
        (``record=False`` checks without remembering)."""
        started = time.perf_counter()
        inp = geo if isinstance(geo, GeoInput) else self.parse(geo, session_id=session_id,
                                                                now=now)
        facts = self._facts(inp, window)
        evidence: list[Evidence] = []
        for check in CHECKS:
            try:
                evidence.extend(check(facts))
            except GeoDataError as err:  # e.g. the history file became unreadable mid-run
                log.warning("geo check %s failed: %s", check.__name__, err)
                evidence.append(Evidence(_CHECK_OF[check], Outcome.NOT_CHECKED, window,
                                         f"{check.__name__[6:]} not checked: {err}",
                                         code=f"{check.__name__[6:]}_failed"))
        store = self.resources.store
        if record and store is not None and inp.gps is not None:
            try:
                store.record(StoredSession(
                    inp.session_id, inp.applicant_id, inp.device_id, inp.time, inp.gps.lat,
                    inp.gps.lon, inp.gps.accuracy_m,
                    cell_of(inp.gps.lat, inp.gps.lon, self.resources.rules.cluster_h3_resolution),
                    facts.ip.ip))
            except GeoDataError as err:
                log.warning("session %s not recorded in the geo history: %s",
                            inp.session_id, err)
        latency_ms = (time.perf_counter() - started) * 1000.0
        return decide(evidence, inp.session_id, latency_ms)

    def close(self) -> None:
        self.resources.ip.close()
        if self.resources.store is not None:
            self.resources.store.close()
