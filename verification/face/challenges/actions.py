"""The challenge actions and how each one shows in the face signals.

Why these signals: every action is read from a quantity that a flat photo cannot change and a
replayed clip changes only when its recording happens to: head yaw and pitch (rigid fit of the
mesh, :mod:`verification.face.geometry`), the eye aspect ratio and MediaPipe's eyeBlink
blendshapes, the inner-lip gap, and the mouthSmile blendshapes.

Each action is a *departure from the applicant's own baseline* (their posture just before the
prompt), not an absolute level: people sit turned a little, smile a little, have narrow eyes.
Thresholds are set from what a cooperative person does when asked (a head turn of 30-45
degrees, a nod of 15-25 degrees, a wide-open mouth at 0.45-0.6 inter-ocular distances, a
smile score near 0.8) with a margin, and above what talking produces (the mouth opens up to
~0.36 while speaking, the lips stretch to a smile score of ~0.45, the head moves a few degrees).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class Action(StrEnum):
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    NOD = "nod"
    BLINK = "blink"
    OPEN_MOUTH = "open_mouth"
    SMILE = "smile"


ALL_ACTIONS: tuple[Action, ...] = tuple(Action)


@dataclass(frozen=True)
class FaceSignals:
    """The per-frame quantities the actions are read from (NaN where no face was found).

    Angles in degrees with :mod:`verification.face.geometry`'s conventions (yaw > 0: the
    applicant turns to their left; pitch > 0: looks up). ``eyes`` is the mean eye aspect ratio,
    ``blink`` the mean eyeBlink blendshape, ``mouth`` the inner-lip gap over the inter-ocular
    distance, ``smile`` the mean mouthSmile blendshape.
    """

    t: np.ndarray
    yaw: np.ndarray
    pitch: np.ndarray
    eyes: np.ndarray
    blink: np.ndarray
    mouth: np.ndarray
    smile: np.ndarray

    @property
    def face(self) -> np.ndarray:
        return np.isfinite(self.yaw)

    def window(self, start: float, end: float) -> FaceSignals:
        keep = (self.t >= start) & (self.t <= end)
        return FaceSignals(*(getattr(self, f)[keep] for f in _FIELDS))

    @classmethod
    def empty(cls) -> FaceSignals:
        return cls(*(np.zeros(0) for _ in _FIELDS))


_FIELDS = ("t", "yaw", "pitch", "eyes", "blink", "mouth", "smile")


def progress(action: Action, s: FaceSignals, base: dict[str, float]) -> np.ndarray:
    """Per-frame progress towards ``action`` from the ``base`` posture, in units of its
    threshold: 1.0 means the action is performed, :data:`ONSET_LEVEL` marks its start."""
    if action is Action.TURN_LEFT:
        return (s.yaw - base["yaw"]) / TURN_DEGREES
    if action is Action.TURN_RIGHT:
        return (base["yaw"] - s.yaw) / TURN_DEGREES
    if action is Action.NOD:
        return (base["pitch"] - s.pitch) / NOD_DEGREES
    if action is Action.BLINK:
        # Either measure may carry the closure: the eye aspect ratio falls, the blendshape rises.
        closing = (base["eyes"] - s.eyes) / max(base["eyes"] * BLINK_EAR_DROP, 1e-6)
        score = (s.blink - base["blink"]) / max(BLINK_SCORE - base["blink"], 0.1)
        return np.fmax(closing, score)
    if action is Action.OPEN_MOUTH:
        target = max(MOUTH_OPEN, base["mouth"] + MOUTH_OPEN_GAIN)
        return (s.mouth - base["mouth"]) / max(target - base["mouth"], 1e-6)
    target = max(SMILE_SCORE, base["smile"] + SMILE_GAIN)
    return (s.smile - base["smile"]) / max(target - base["smile"], 1e-6)


ONSET_LEVEL = 0.3  # a quarter-or-so of the way: the movement has visibly started


TURN_DEGREES = 20.0
NOD_DEGREES = 10.0
BLINK_EAR_DROP = 0.45  # the eye aspect ratio falls by 45 % of its open value
BLINK_SCORE = 0.5
MOUTH_OPEN = 0.4  # speech opens the mouth up to ~0.36 (GRID speakers); asked, people open wider
MOUTH_OPEN_GAIN = 0.2
SMILE_SCORE = 0.6  # speech ("ee") stretches the lips to a smile score of ~0.45
SMILE_GAIN = 0.3
# A blink challenge asks for two blinks: people blink every 3-4 s on their own, so one blink in
# a 3.5 s window happens by chance about half the time, two only about one time in five.
REQUIRED_EPISODES: dict[Action, int] = {Action.BLINK: 2}

# Prompt texts the live flow shows (the applicant sees only these, never thresholds).
PROMPTS: dict[Action, dict[str, str]] = {
    Action.TURN_LEFT: {"zh-CN": "请向左转头", "en": "Turn your head to your left"},
    Action.TURN_RIGHT: {"zh-CN": "请向右转头", "en": "Turn your head to your right"},
    Action.NOD: {"zh-CN": "请点头", "en": "Nod your head"},
    Action.BLINK: {"zh-CN": "请眨眼两次", "en": "Blink twice"},
    Action.OPEN_MOUTH: {"zh-CN": "请张大嘴", "en": "Open your mouth wide"},
    Action.SMILE: {"zh-CN": "请微笑", "en": "Smile"},
}


def parse_action(name: str) -> Action | None:
    try:
        return Action(name)
    except ValueError:
        return None
