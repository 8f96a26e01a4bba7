"""Expression and micro-expression cues for reviewers - advisory, never a gate.

Micro-expressions are brief (<= 0.5 s), low-intensity facial movements. Lab spotting scores are
low (F1 about 0.25-0.34, about 0.13 on unseen data) and emotion recognition in credit decisions
is high-risk in several jurisdictions, so this package only *describes visible movements* for a
human reviewer; the fusion policy keeps the check advisory in every product
(:data:`verification.fusion.policy.ALWAYS_ADVISORY`).

Modules, in the order data flows:

* :mod:`~verification.expression.reading` - per-frame expression: fer's 7 classes on the aligned
  crop, its smile fused with the blendshapes and face-api's network
  (:mod:`~verification.expression.smile`), with a confidence;
  :mod:`~verification.expression.smoothing` smooths it over media time;
* :mod:`~verification.expression.regions` - the rigid face chip and its facial regions;
  :mod:`~verification.expression.flow` - transient optical flow and strain per region;
  :mod:`~verification.expression.motion` - one motion sample per frame, ``k`` seconds late;
* :mod:`~verification.expression.speech` - voice activity (and lost audio) in media time;
* :mod:`~verification.expression.spotting` - onset-apex-offset events against the person's own
  baseline, with blinks, gaze shifts, speech and head motion excluded (pure functions);
* :mod:`~verification.expression.labels` - plain-language names;
  :mod:`~verification.expression.timeline` - the per-answer summary with the baseline comparison;
* :mod:`~verification.expression.cue` - the face-stage cue that ties it together and emits the
  ``Check.MICRO_EXPRESSION`` evidence; :mod:`~verification.expression.offline` - the same over a
  recording (``verification expression timeline``).
"""
