"""Mouth opening per video frame, from the 478-point face mesh, for lip-speech sync.

The measure is the outer-lip height (mesh landmarks 0, upper-lip top, and 17, lower-lip bottom)
divided by the inter-ocular distance (outer eye corners 33 and 263): it follows both jaw and lip
opening, and the ratio does not change with the distance to the camera. On the GRID clips it
correlated with the speech envelope better than the inner-lip gap (13-14, the face stage's
``mouth_opening``) or the inner-lip area, so lip sync computes its own from the landmarks the
face stage already has.
"""

from __future__ import annotations

import numpy as np

UPPER_LIP_TOP = 0
LOWER_LIP_BOTTOM = 17
EYE_OUTER_RIGHT = 33
EYE_OUTER_LEFT = 263


def mouth_opening(points: np.ndarray) -> float:
    """Outer-lip height over inter-ocular distance for one face's ``(478, 2+)`` mesh points."""
    p = np.asarray(points, dtype=np.float64)[:, :2]
    eyes = float(np.linalg.norm(p[EYE_OUTER_RIGHT] - p[EYE_OUTER_LEFT]))
    if eyes <= 1e-6:
        return float("nan")
    return float(np.linalg.norm(p[UPPER_LIP_TOP] - p[LOWER_LIP_BOTTOM]) / eyes)
