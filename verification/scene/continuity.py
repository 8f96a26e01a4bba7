"""Does the background stay the same place through the interview? Cuts and switched sources.

Why geometric verification between consecutive analysed moments: a hand-held phone moves all
the time, so raw pixel differences say little; but two moments of the same room share many
background features related by one homography. A *jump* is two consecutive moments that do not
(fewer than ``MIN_INLIERS`` consistent ORB matches) while the frame-level look
(``verification.scene.sampling``) saw an abrupt discontinuity between them - a cut, or the
camera feed switched to another source - rather than a pan through the room.

When the background is too plain or too hidden for features (a white wall, the applicant
leaning into the camera), the colour distribution of the background decides instead, and only
a large change counts; such a jump is reported as inconclusive, since it cannot be verified.

Each stretch of one background is a *segment*; the best-textured moment of each segment is kept
as its keyframe for the cross-interview fingerprint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from verification.scene.descriptor import colour_block
from verification.scene.features import LocalFeatures
from verification.scene.masking import BackgroundView
from verification.scene.matching import PlaceMatch, verify_place

MIN_FEATURES = 40  # per moment, for the geometric check to be trusted
# Keyframes (a frame-sized view each, ~2.5 MB) are kept for at most this many segments - the
# longest ones - so a flickering feed cannot grow memory without bound.
MAX_KEPT_KEYFRAMES = 8
MIN_BACKGROUND_SHARE = 0.1
COLOUR_JUMP_SIMILARITY = 0.7  # Bhattacharyya coefficient of background colour histograms


def colour_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya coefficient of two normalised histograms (1 = identical)."""
    return float(np.sqrt(np.maximum(a, 0) * np.maximum(b, 0)).sum())


@dataclass(frozen=True, eq=False)
class Moment:
    """One analysed moment of the background."""

    pts: float
    view: BackgroundView
    features: LocalFeatures  # ORB
    colour: np.ndarray

    @property
    def measurable(self) -> bool:
        return len(self.features) >= MIN_FEATURES and (
            self.view.background_share >= MIN_BACKGROUND_SHARE)


@dataclass(frozen=True)
class Jump:
    """The background changed between ``before`` and ``at`` (media seconds)."""

    before: float
    at: float
    verified: bool  # decided by features (True) or by colour only (False)
    inliers: int
    colour_similarity: float
    features: tuple[int, int]
    reason: str


@dataclass
class Segment:
    start: float
    end: float
    keyframe: Moment | None  # None once dropped to bound memory
    moments: int = 1

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class ContinuityTracker:
    """Feed analysed moments in time order; collects jumps and background segments."""

    segments: list[Segment] = field(default_factory=list)
    jumps: list[Jump] = field(default_factory=list)
    _previous: Moment | None = None

    def update(self, moment: Moment, abrupt_at: float | None) -> Jump | None:
        """``abrupt_at``: media time of a frame-level discontinuity since the previous moment."""
        previous = self._previous
        self._previous = moment
        if previous is None:
            self.segments.append(Segment(moment.pts, moment.pts, moment))
            return None
        jump = self._jump(previous, moment, abrupt_at)
        if jump is not None:
            self.jumps.append(jump)
            self.segments.append(Segment(moment.pts, moment.pts, moment))
            self._bound_keyframes()
            return jump
        segment = self.segments[-1]
        segment.end = moment.pts
        segment.moments += 1
        if segment.keyframe is None or _texture(moment) > _texture(segment.keyframe):
            segment.keyframe = moment
        return None

    def _bound_keyframes(self) -> None:
        kept = [s for s in self.segments[:-1] if s.keyframe is not None]
        if len(kept) + 1 > MAX_KEPT_KEYFRAMES:
            min(kept, key=lambda s: s.duration).keyframe = None

    def _jump(self, previous: Moment, moment: Moment, abrupt_at: float | None) -> Jump | None:
        if abrupt_at is None:
            return None  # no discontinuity between the two moments: the camera moved
        colour = colour_similarity(previous.colour, moment.colour)
        counts = (len(previous.features), len(moment.features))
        if previous.measurable and moment.measurable:
            match: PlaceMatch = verify_place(previous.features, moment.features)
            if match.same_place:
                return None
            return Jump(previous.pts, abrupt_at, True, match.inliers, colour, counts,
                        f"background changed abruptly: {match.reason}")
        if colour < COLOUR_JUMP_SIMILARITY:
            return Jump(previous.pts, abrupt_at, False, 0, colour, counts,
                        f"background colours changed abruptly (similarity {colour:.2f}); too "
                        "little background texture to verify")
        return None


def _texture(moment: Moment) -> float:
    return len(moment.features) * moment.view.background_share


def moment_of(pts: float, view: BackgroundView, features: LocalFeatures) -> Moment:
    return Moment(pts, view, features, colour_block(view))
