"""Passive presentation-attack detection (PAD) from the face stage's observations.

No production anti-spoofing weights are available offline, so the cues are principled
measurements, each one tested on its own (``benchmarks/eval_liveness.py``):

* :mod:`.landmarks` - does the face move as a flat picture (one homography) or with 3D
  parallax and expression?
* :mod:`.scene` - does the face move together with its surroundings as one plane?
* :mod:`.screen` - a screen's or print's edges around the face, moiré, glare, tone range;
* :mod:`.texture` - paper texture: the skin's colour gamut and fine detail of a print;
* :mod:`.shading` - flat shading: does the light on the face follow the head's rotation?
* :mod:`.measures` / :mod:`.decision` - per-frame numbers and the pure decision over them,
  including frozen video and facial activity (speech, blinks);
* :mod:`.cue` - the face cue that wires it into the face analyzer.
"""

from verification.face.pad.cue import PresentationAttackCue
from verification.face.pad.decision import PadAssessment, PadConfig, assess

__all__ = ["PadAssessment", "PadConfig", "PresentationAttackCue", "assess"]
