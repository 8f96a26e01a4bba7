"""Where earlier sessions were: a small SQLite file under the data dir that survives restarts.

One row per session (its latest valid fix), keyed by session id so re-checking a session
replaces its row instead of adding a twin. Rows carry the applicant and device ids (impossible
travel looks up the same applicant's or device's earlier sessions) and the H3 cell of the fix
(location clusters look up the cell and its neighbours). Every query is an indexed lookup, so
the cost does not grow with the number of stored sessions beyond the matching rows.

One connection guarded by a lock: the geo stage runs in executor threads, and the work per
call is well under a millisecond, so a lock costs less than a connection pool.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from verification.geo.errors import GeoDataError

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS geo_sessions (
    session_id   TEXT PRIMARY KEY,
    applicant_id TEXT,
    device_id    TEXT,
    t            REAL NOT NULL,
    lat          REAL NOT NULL,
    lon          REAL NOT NULL,
    accuracy_m   REAL,
    cell         TEXT NOT NULL,
    ip           TEXT
);
CREATE INDEX IF NOT EXISTS geo_sessions_cell ON geo_sessions (cell, t);
CREATE INDEX IF NOT EXISTS geo_sessions_applicant ON geo_sessions (applicant_id, t);
CREATE INDEX IF NOT EXISTS geo_sessions_device ON geo_sessions (device_id, t);
CREATE INDEX IF NOT EXISTS geo_sessions_point ON geo_sessions (lat, lon);
"""


@dataclass(frozen=True)
class StoredSession:
    session_id: str
    applicant_id: str | None
    device_id: str | None
    t: float
    lat: float
    lon: float
    accuracy_m: float | None
    cell: str
    ip: str | None

    def to_json(self) -> dict[str, object]:
        return {"session_id": self.session_id, "applicant_id": self.applicant_id,
                "device_id": self.device_id, "time": self.t, "lat": self.lat, "lon": self.lon,
                "accuracy_m": self.accuracy_m}


_COLUMNS = "session_id, applicant_id, device_id, t, lat, lon, accuracy_m, cell, ip"


class GeoHistoryStore:
    """Opened on first use, so a process that never sees a GPS fix never creates the file;
    an unusable file is a :class:`GeoDataError` naming it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        path = self.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, _SCHEMA_VERSION):
                db.close()
                raise GeoDataError(f"geo history {path} has schema version {version}, this "
                                   f"program knows {_SCHEMA_VERSION}")
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        except sqlite3.Error as err:
            raise GeoDataError(f"geo history {path}: cannot open SQLite file ({err})") from None
        except OSError as err:
            raise GeoDataError(f"geo history {path}: cannot create ({err.strerror})") from None
        return db

    @property
    def _db(self) -> sqlite3.Connection:
        """The connection; call with the lock held."""
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def record(self, row: StoredSession) -> None:
        self.record_many([row])

    def record_many(self, rows: Sequence[StoredSession]) -> None:
        """Insert or replace (by session id) in one transaction."""
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                db.executemany(
                    f"INSERT OR REPLACE INTO geo_sessions ({_COLUMNS}) "
                    "VALUES (?,?,?,?,?,?,?,?,?)",
                    [(r.session_id, r.applicant_id, r.device_id, r.t, r.lat, r.lon,
                      r.accuracy_m, r.cell, r.ip) for r in rows])
                db.execute("COMMIT")
            except sqlite3.Error as err:
                db.execute("ROLLBACK")
                raise GeoDataError(f"geo history {self.path}: write failed ({err})") from None

    def _select(self, where: str, params: Sequence[object]) -> list[StoredSession]:
        with self._lock:
            try:
                rows = self._db.execute(f"SELECT {_COLUMNS} FROM geo_sessions WHERE {where}",
                                        params).fetchall()
            except sqlite3.Error as err:
                raise GeoDataError(f"geo history {self.path}: read failed ({err})") from None
        return [StoredSession(*row) for row in rows]

    def same_person(self, session_id: str, applicant_id: str | None, device_id: str | None,
                    since: float, limit: int = 50) -> list[StoredSession]:
        """Other sessions of this applicant or this device since ``since``, newest first."""
        out: dict[str, StoredSession] = {}
        for column, value in (("applicant_id", applicant_id), ("device_id", device_id)):
            if value is None:
                continue
            for row in self._select(f"{column} = ? AND t >= ? AND session_id != ? "
                                    "ORDER BY t DESC LIMIT ?",
                                    (value, since, session_id, limit)):
                out[row.session_id] = row
        return sorted(out.values(), key=lambda r: -r.t)

    def in_cells(self, cells: Sequence[str], since: float, until: float,
                 exclude_session: str,
                 box: tuple[float, float, float, float] | None = None) -> list[StoredSession]:
        """Sessions in the given cells and time span; ``box`` (lat_min, lat_max, lon_min,
        lon_max) drops rows outside the query's bounding box inside SQLite, so a dense cell
        costs no Python objects for points that are too far anyway."""
        marks = ",".join("?" * len(cells))
        where = f"cell IN ({marks}) AND t >= ? AND t <= ? AND session_id != ?"
        params: list[object] = [*cells, since, until, exclude_session]
        if box is not None:
            where += " AND lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?"
            params.extend(box)
        return self._select(where, params)

    def same_point(self, lat: float, lon: float, exclude_session: str) -> list[StoredSession]:
        """Sessions whose fix is bit-identical to this one."""
        return self._select("lat = ? AND lon = ? AND session_id != ?",
                            (lat, lon, exclude_session))

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM geo_sessions").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
