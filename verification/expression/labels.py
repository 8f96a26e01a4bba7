"""Plain-language names for facial movements, for reviewers who do not read blendshape names.

Why: "browDownLeft 0.21, mouthPressRight 0.18" means nothing to a loan officer; "brief lip press
and brow lowering at 12.4 s while answering 'purpose of the loan'" does. Names follow the
everyday wording of the facial action coding literature (lip-corner pull, brow lowering, lip
press, ...), never an emotion claim: a cue says what moved, not what the applicant felt.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from verification.expression.spotting import SpottedEvent

# blendshape -> (action, side) ; side "left"/"right"/"" (the applicant's)
_BLENDSHAPE_ACTIONS: dict[str, tuple[str, str]] = {
    "browDownLeft": ("brow lowering", "left"), "browDownRight": ("brow lowering", "right"),
    "browInnerUp": ("inner brow raise", ""),
    "browOuterUpLeft": ("outer brow raise", "left"),
    "browOuterUpRight": ("outer brow raise", "right"),
    "eyeSquintLeft": ("eye narrowing", "left"), "eyeSquintRight": ("eye narrowing", "right"),
    "eyeWideLeft": ("eye widening", "left"), "eyeWideRight": ("eye widening", "right"),
    "noseSneerLeft": ("nose wrinkle", "left"), "noseSneerRight": ("nose wrinkle", "right"),
    "cheekSquintLeft": ("cheek raise", "left"), "cheekSquintRight": ("cheek raise", "right"),
    "mouthSmileLeft": ("lip-corner pull", "left"), "mouthSmileRight": ("lip-corner pull", "right"),
    "mouthFrownLeft": ("lip-corner depression", "left"),
    "mouthFrownRight": ("lip-corner depression", "right"),
    "mouthDimpleLeft": ("dimpling", "left"), "mouthDimpleRight": ("dimpling", "right"),
    "mouthStretchLeft": ("lip stretch", "left"), "mouthStretchRight": ("lip stretch", "right"),
    "mouthPressLeft": ("lip press", "left"), "mouthPressRight": ("lip press", "right"),
    "mouthPucker": ("lip pucker", ""), "mouthFunnel": ("lip funnel", ""),
    "mouthRollLower": ("lips drawn in", ""), "mouthRollUpper": ("lips drawn in", ""),
    "mouthShrugLower": ("chin raise", ""), "mouthShrugUpper": ("upper-lip shrug", ""),
    "mouthUpperUpLeft": ("upper-lip raise", "left"),
    "mouthUpperUpRight": ("upper-lip raise", "right"),
    "mouthLowerDownLeft": ("lower-lip drop", "left"),
    "mouthLowerDownRight": ("lower-lip drop", "right"),
    "jawOpen": ("jaw drop", ""), "mouthClose": ("lips closing", ""),
    "mouthLeft": ("mouth pulled sideways", ""), "mouthRight": ("mouth pulled sideways", ""),
}

# Where no blendshape moved enough to name, the region and its movement direction do.
_UP, _DOWN = "up", "down"


def _region_action(region: str, direction: tuple[float, float]) -> tuple[str, str]:
    dy = direction[1]
    vertical = _UP if dy < 0 else _DOWN
    side = "left" if region.endswith("_left") else "right" if region.endswith("_right") else ""
    if region.startswith("brow"):
        return ("brow raise" if vertical == _UP else "brow lowering"), side
    if region == "glabella":
        return ("brow knit" if vertical == _DOWN else "inner brow raise"), ""
    if region.startswith("eye"):
        return "movement around the eyes", side
    if region == "nose":
        return "nose wrinkle", ""
    if region.startswith("mouth_corner"):
        return ("lip-corner pull" if vertical == _UP else "lip-corner depression"), side
    return "lip movement", ""


def _combine(actions: Iterable[tuple[str, str]]) -> list[str]:
    """Merge sides: an action seen on both sides (or sideless) is named once without a side."""
    sides: dict[str, set[str]] = {}
    for action, side in actions:
        sides.setdefault(action, set()).add(side)
    out = []
    for action, seen in sides.items():
        one_sided = seen in ({"left"}, {"right"})
        out.append(f"{next(iter(seen))} {action}" if one_sided else action)
    return out


def event_actions(event: SpottedEvent, limit: int = 2) -> list[str]:
    """The event's movements in plain words, strongest first."""
    actions = [_BLENDSHAPE_ACTIONS[name] for name, _ in event.blendshapes
               if name in _BLENDSHAPE_ACTIONS]
    named = _combine(actions)
    if not named:  # nothing named by the blendshapes: the strongest regions' movement
        named = _combine(_region_action(r, event.directions.get(r, (0.0, 0.0)))
                         for r in event.regions[:limit])
    return named[:limit]


def join_words(words: Sequence[str]) -> str:
    if not words:
        return ""
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


def event_label(event: SpottedEvent, context: str | None = None) -> str:
    """E.g. "brief lip press and brow lowering at 12.4 s while answering 'purpose of the
    loan'". ``context`` is the step phrase (see :mod:`verification.expression.timeline`)."""
    kind = "brief" if event.kind == "micro" else "brief, pronounced"
    text = f"{kind} {join_words(event_actions(event)) or 'facial movement'} at {event.apex:.1f} s"
    if context:
        text += f" {context}"
    return text
