"""Pairwise "same place?" for still images: the engine behind ``verification scene compare``.

Each image is read once, the applicant is masked out with the person-segmentation model, and
its background fingerprint is cached by path, so a batch of pairs touching one file many times
decodes and segments it once. A file that cannot be read is remembered as an error and reported
on every pair that uses it, without stopping the batch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from verification.errors import InvalidInputError, VerificationError
from verification.scene.fingerprint import BackgroundFingerprint, Fingerprinter
from verification.scene.masking import ApplicantMasker
from verification.scene.matching import PlaceMatch
from verification.video.images import load_image

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PairResult:
    a: str
    b: str
    match: PlaceMatch | None = None
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        """The CLI contract: ``{"a","b","similarity","same_place"}`` or ``{"a","b","error"}``."""
        if self.match is None:
            return {"a": self.a, "b": self.b, "error": self.error or "unknown error"}
        return {"a": self.a, "b": self.b, "similarity": round(self.match.similarity, 4),
                "same_place": bool(self.match.same_place)}


class PlaceComparer:
    def __init__(self, fingerprinter: Fingerprinter) -> None:
        self.fingerprinter = fingerprinter
        self._cache: dict[Path, BackgroundFingerprint | str] = {}

    @classmethod
    def from_registry(cls, registry, segmentation_model: str = "person_segmentation"
                      ) -> PlaceComparer:
        return cls(Fingerprinter(ApplicantMasker(registry.adapter(segmentation_model))))

    def fingerprint(self, path: Path) -> BackgroundFingerprint:
        """The file's fingerprint (cached); raises VerificationError for unreadable input."""
        key = path.resolve()
        cached = self._cache.get(key)
        if cached is None:
            try:
                cached = self.fingerprinter.from_image(load_image(path))
            except VerificationError as err:
                cached = str(err)
            except Exception as err:  # a bug must not stop a batch: report it on the pair
                log.exception("fingerprinting %s failed", path)
                cached = f"{path}: unexpected failure ({type(err).__name__}: {err})"
            self._cache[key] = cached
        if isinstance(cached, str):
            raise InvalidInputError(cached)
        return cached

    @property
    def files_processed(self) -> int:
        return len(self._cache)

    def compare(self, a: Path, b: Path, label_a: str | None = None,
                label_b: str | None = None) -> PairResult:
        label_a = str(a) if label_a is None else label_a
        label_b = str(b) if label_b is None else label_b
        try:
            first = self.fingerprint(a)
            second = self.fingerprint(b)
        except VerificationError as err:
            return PairResult(label_a, label_b, error=str(err))
        return PairResult(label_a, label_b, match=first.compare(second))


