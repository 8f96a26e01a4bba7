"""Neutral vs smiling from three independent experts, fused in log-odds.

Why: fer's mini-Xception (FER2013) is reliable on broad, open-mouth smiles but calls most
closed-mouth smiles "neutral" (about 25 of the 69 London smiles are "happy" for it); MediaPipe's
``mouthSmileLeft/Right`` blendshapes see lip-corner pulls that fer misses, but some people's
resting mouth scores 0.2-0.4; face-api's expression network
(:mod:`verification.face.expression_faceapi`: colour, 112 px, other training data) is a third
opinion whose mistakes are not fer's. They err on different faces, so their evidence is combined
the standard way for calibrated opinions (a logistic model over their log-odds, i.e. a weighted
product of experts). The fitted weights say how far each is trusted: with both networks reading
neutral (fer 1e-3, face-api below 1e-4) a face needs a mouthSmile of about 0.87 to count as
smiling; with face-api at P(happy) 0.6 it counts whatever the blendshapes say; fer weighs little
once face-api is there (it stays for its 7-class distribution)::

    logit P(smiling) = W_BLENDSHAPE * logit(mean mouthSmile) + W_FER * logit(P_fer(happy))
                       + W_FACEAPI * logit(P_faceapi(happy)) + BIAS

Four parameters, fitted by ``benchmarks/eval_expression.py --fit`` (L2-regularised logistic
regression, the probabilities clipped to [1e-4, 1 - 1e-4]: :data:`CLIP` is part of the fit,
since face-api's ``happy`` on a neutral face is usually below 1e-4 and sits on the clip, so
changing it means refitting) on all 138 London portraits, both
CNNs' ``happy`` being mirror-averaged probabilities; the accuracy that script reports is
leave-one-person-out (each person's two portraits are scored by a model fitted without them).
Only four numbers are learnt from 138 images, so the fit cannot memorise faces. With face-api
added the leave-one-person-out accuracy rose from 125 to 127 of 138 and the weakest ethnic
group's from 11 to 13 of 14 (log-loss 0.294 -> 0.268); the previous two-expert fusion is kept
in that script's table for comparison.

:func:`fuse_expression` puts the fused smile probability back into fer's 7-class distribution:
``happy`` becomes the fused probability and the other six classes keep their relative shares
(the fusion refines the happy / not-happy split only; it knows nothing new about anger vs fear).
"""

from __future__ import annotations

import math

import numpy as np

from verification.face.expression import LABELS

W_BLENDSHAPE = 0.3405
W_FER = 0.0744
W_FACEAPI = 0.4524
BIAS = 4.0454
CLIP = 1e-4
HAPPY = LABELS.index("happy")
NEUTRAL = LABELS.index("neutral")


def _logit(p: float) -> float:
    p = min(max(float(p), CLIP), 1.0 - CLIP)
    return math.log(p / (1.0 - p))


def smile_log_odds(mouth_smile: float, fer_happy: float, faceapi_happy: float) -> float:
    """The fused log-odds that the face is smiling (> 0: smiling)."""
    return (W_BLENDSHAPE * _logit(mouth_smile) + W_FER * _logit(fer_happy)
            + W_FACEAPI * _logit(faceapi_happy) + BIAS)


def smile_probability(mouth_smile: float, fer_happy: float, faceapi_happy: float) -> float:
    """P(smiling) from the mean ``mouthSmile`` blendshape and the two CNNs' ``happy``."""
    z = smile_log_odds(mouth_smile, fer_happy, faceapi_happy)
    return 1.0 / (1.0 + math.exp(-z)) if z > -500 else 0.0


def fuse_expression(fer_probabilities: np.ndarray, mouth_smile: float,
                    faceapi_happy: float) -> np.ndarray:
    """fer's 7 probabilities (LABELS order) with ``happy`` replaced by the fused smile
    probability and the other classes rescaled to fill the rest."""
    probs = np.asarray(fer_probabilities, dtype=np.float64).reshape(-1)
    if probs.shape != (len(LABELS),):
        raise ValueError(f"expected {len(LABELS)} probabilities, got {probs.shape}")
    happy = smile_probability(mouth_smile, float(probs[HAPPY]), faceapi_happy)
    rest = np.delete(probs, HAPPY)
    total = float(rest.sum())
    rest = rest / total if total > 1e-12 else np.full(len(rest), 1.0 / len(rest))
    out = np.insert(rest * (1.0 - happy), HAPPY, happy)
    return out
