"""On-disk index of background fingerprints across interviews (fraud rings: one room, many names).

Why SQLite plus an in-memory matrix: the index must survive restarts and be shared by the server
and ``verification analyze`` processes, and SQLite gives atomic appends without a daemon. Search
is two-staged, as in verified image retrieval:

1. **candidates** - the cosine of the query's global descriptor with every stored one (one
   matrix-vector product over a float32 matrix held in memory; 10^5 rows x 336 dims = 134 MB);
2. **verification** - the local features of the best ``candidates`` rows are read from disk and
   verified geometrically (``verification.scene.matching``); only verified rows are reported.

The in-memory matrix is refreshed incrementally (rows with a larger id than the last one seen),
so entries written by another process are found without a restart. Entries are append-only: a
session id may own several rows (one per distinct background seen in that interview).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from verification.errors import VerificationError
from verification.scene.descriptor import DESCRIPTOR_DIM
from verification.scene.features import LocalFeatures
from verification.scene.fingerprint import BackgroundFingerprint
from verification.scene.matching import PlaceMatch, verify_place

log = logging.getLogger(__name__)

INDEX_FILE = "scene_index.sqlite3"
SCHEMA_VERSION = "1"
DEFAULT_CANDIDATES = 24
FACE_DIM = 128


class TemplateSealer(Protocol):
    """Encrypts a face descriptor elsewhere and returns what the row stores instead."""

    def seal(self, session_id: str, raw: bytes) -> bytes: ...

    def unseal(self, stored: bytes) -> bytes | None: ...


class SceneIndexError(VerificationError):
    code = "scene_index"


@dataclass(frozen=True)
class IndexEntry:
    """What is stored for one background of one interview."""

    session_id: str
    fingerprint: BackgroundFingerprint
    face: np.ndarray | None = None  # (128,) dlib descriptor of the applicant, when known
    created_at: float = 0.0


@dataclass(frozen=True)
class PlaceHit:
    """A stored background verified as the same place as the query."""

    row_id: int
    session_id: str
    created_at: float
    cosine: float
    candidate_rank: int  # 1-based rank of this row by global-descriptor cosine
    match: PlaceMatch
    face: np.ndarray | None


@dataclass(frozen=True)
class SearchResult:
    hits: tuple[PlaceHit, ...]  # verified same-place rows, most inliers first
    candidates: int  # rows verified geometrically
    searched: int  # rows compared by global descriptor
    latency_ms: float


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS places (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    descriptor BLOB NOT NULL,
    local BLOB NOT NULL,
    face BLOB
);
CREATE INDEX IF NOT EXISTS places_session ON places (session_id);
"""


class SceneIndex:
    """Thread-safe; one instance per process and directory (``SceneIndex.open(dir)``)."""

    def __init__(self, path: Path, sealer: TemplateSealer | None = None) -> None:
        self.path = path
        # Face descriptors are biometric templates: with a sealer (the server's media vault)
        # the row keeps only a reference and the descriptor is encrypted at rest.
        self._sealer = sealer
        self._lock = threading.Lock()
        self._ids = np.zeros(0, np.int64)
        self._sessions: list[str] = []
        self._session_codes: dict[str, int] = {}
        self._codes = np.zeros(0, np.int32)  # per row: index into the session-code table
        self._matrix = np.zeros((0, DESCRIPTOR_DIM), np.float32)
        self._count = 0
        self._last_id = 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            self._check_meta()
        except sqlite3.DatabaseError as err:
            raise SceneIndexError(f"scene index {path}: cannot open ({err})") from None
        except OSError as err:
            raise SceneIndexError(f"scene index {path}: cannot create ({err.strerror})") from None

    @classmethod
    def open(cls, directory: str | Path, sealer: TemplateSealer | None = None) -> SceneIndex:
        return cls(Path(directory) / INDEX_FILE, sealer)

    def _face_blob(self, session_id: str, face: np.ndarray | None) -> bytes | None:
        if face is None:
            return None
        raw = face.astype(np.float32).tobytes()
        return raw if self._sealer is None else self._sealer.seal(session_id, raw)

    def _face(self, blob: bytes | None) -> np.ndarray | None:
        if blob is not None and self._sealer is not None:
            blob = self._sealer.unseal(blob)  # None once retention or a deletion removed it
        if blob is None or len(blob) != FACE_DIM * 4:
            return None
        return np.frombuffer(blob, np.float32).copy()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _check_meta(self) -> None:
        rows = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        expected = {"schema": SCHEMA_VERSION, "descriptor_dim": str(DESCRIPTOR_DIM)}
        if not rows:
            with self._db:
                self._db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                                     list(expected.items()))
            return
        for key, value in expected.items():
            if rows.get(key) != value:
                raise SceneIndexError(
                    f"scene index {self.path}: {key} is {rows.get(key)!r}, this version needs "
                    f"{value!r} (move the old index away to start a new one)")

    # -- writing -------------------------------------------------------------------------------
    def add(self, entries: Sequence[IndexEntry]) -> list[int]:
        """Append entries atomically; returns their row ids."""
        rows = []
        for entry in entries:
            descriptor = np.asarray(entry.fingerprint.descriptor, np.float32)
            if descriptor.shape != (DESCRIPTOR_DIM,):
                raise ValueError(f"descriptor must be ({DESCRIPTOR_DIM},), got {descriptor.shape}")
            face = None if entry.face is None else np.asarray(entry.face, np.float32)
            if face is not None and face.shape != (FACE_DIM,):
                raise ValueError(f"face descriptor must be ({FACE_DIM},), got {face.shape}")
            rows.append((entry.session_id, float(entry.created_at or time.time()),
                         descriptor.astype(np.float16).tobytes(), entry.fingerprint.local.pack(),
                         self._face_blob(entry.session_id, face)))
        ids = []
        with self._lock, self._db:
            for row in rows:
                cursor = self._db.execute(
                    "INSERT INTO places (session_id, created_at, descriptor, local, face) "
                    "VALUES (?, ?, ?, ?, ?)", row)
                ids.append(int(cursor.lastrowid))
        return ids

    # -- reading -------------------------------------------------------------------------------
    def __len__(self) -> int:
        with self._lock:
            self._refresh()
            return self._count

    def sessions(self) -> set[str]:
        with self._lock:
            self._refresh()
            return set(self._sessions[: self._count])

    def _refresh(self) -> None:
        """Load rows other writers (or this one) appended since the last refresh."""
        cursor = self._db.execute(
            "SELECT id, session_id, descriptor FROM places WHERE id > ? ORDER BY id",
            (self._last_id,))
        while batch := cursor.fetchmany(10_000):
            new = len(batch)
            self._grow(self._count + new)
            ids = np.fromiter((r[0] for r in batch), np.int64, new)
            block = np.frombuffer(b"".join(r[2] for r in batch), np.float16)
            self._matrix[self._count:self._count + new] = block.reshape(new, DESCRIPTOR_DIM)
            self._ids[self._count:self._count + new] = ids
            self._codes[self._count:self._count + new] = [
                self._session_codes.setdefault(r[1], len(self._session_codes)) for r in batch]
            self._sessions.extend(r[1] for r in batch)
            self._count += new
            self._last_id = int(ids[-1])

    def _grow(self, needed: int) -> None:
        if needed <= self._matrix.shape[0]:
            return
        capacity = max(needed, 2 * self._matrix.shape[0], 1024)
        matrix = np.zeros((capacity, DESCRIPTOR_DIM), np.float32)
        matrix[: self._count] = self._matrix[: self._count]
        ids = np.zeros(capacity, np.int64)
        ids[: self._count] = self._ids[: self._count]
        codes = np.zeros(capacity, np.int32)
        codes[: self._count] = self._codes[: self._count]
        self._matrix, self._ids, self._codes = matrix, ids, codes

    def search(self, fingerprint: BackgroundFingerprint, exclude_sessions: Iterable[str] = (),
               candidates: int = DEFAULT_CANDIDATES) -> SearchResult:
        """Verified same-place rows for ``fingerprint`` among all stored rows."""
        started = time.perf_counter()
        excluded = set(exclude_sessions)
        with self._lock:
            self._refresh()
            count = self._count
            if count == 0:
                return SearchResult((), 0, 0, (time.perf_counter() - started) * 1000.0)
            scores = self._matrix[:count] @ np.asarray(fingerprint.descriptor, np.float32)
            excluded_codes = [self._session_codes[s] for s in excluded
                              if s in self._session_codes]
            if excluded_codes:
                scores[np.isin(self._codes[:count], excluded_codes)] = -np.inf
            k = min(candidates, count)
            top = np.argpartition(-scores, k - 1)[:k]
            top = top[np.argsort(-scores[top], kind="stable")]
            top = top[np.isfinite(scores[top])]
            wanted = [int(self._ids[p]) for p in top]
            cosines = {int(self._ids[p]): float(scores[p]) for p in top}
            rows = self._fetch(wanted)
        hits = []
        for rank, row_id in enumerate(wanted, start=1):
            if row_id not in rows:
                continue
            session_id, created_at, local_blob, face_blob = rows[row_id]
            match = verify_place(fingerprint.local, LocalFeatures.unpack(local_blob),
                                 early_exit=True)
            if match.same_place:
                face = self._face(face_blob)
                hits.append(PlaceHit(row_id, session_id, created_at, cosines[row_id], rank,
                                     match, face))
        hits.sort(key=lambda h: (-h.match.inliers, h.candidate_rank))
        return SearchResult(tuple(hits), len(wanted), count,
                            (time.perf_counter() - started) * 1000.0)

    def _fetch(self, row_ids: Sequence[int]) -> dict[int, tuple[str, float, bytes, bytes | None]]:
        if not row_ids:
            return {}
        marks = ",".join("?" * len(row_ids))
        cursor = self._db.execute(
            f"SELECT id, session_id, created_at, local, face FROM places WHERE id IN ({marks})",
            list(row_ids))
        return {int(r[0]): (r[1], float(r[2]), r[3], r[4]) for r in cursor.fetchall()}
