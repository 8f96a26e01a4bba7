"""From the measurements of one interview to passive-liveness evidence (a pure function).

Each cue is judged on its own and says ``live``, ``attack``, ``suspect`` or ``unknown``:

* ``frozen_video`` - consecutive frames identical (face pixels and landmarks unchanged): a
  still image injected while the audio plays on.
* ``facial_activity`` - the face deforms as only a live face can: the mouth moves (speech) or
  the eyes blink. Its absence alone is not an attack (people can sit still and silent) but
  nothing passive then shows life: ``unknown``; below any natural micro-motion it is
  ``face_too_still``.
* ``planar_motion`` - the face moved, and all 478 points followed one homography to within
  the mesh's own jitter: a flat picture. (3D parallax would break the fit for a real head.)
* ``moves_with_scene`` - the face moved exactly as the surrounding scene did (one plane): the
  surroundings belong to the same photo or screen, or the camera films a still picture.
* ``frame_around_face`` - the edges of a screen or print enclose the face (see
  :mod:`.screen`).
* ``corner_moves_with_face`` - a close-up: only a corner of the frame is in view, and the
  face moves with its surroundings (review only: a door frame plus a shaking phone can do it).
* ``moire`` - periodic spectral peaks of a filmed display.
* ``paper_texture`` - the skin's colour and finest detail both fall below every live face
  measured (see :mod:`.texture`): ink on paper, filmed again.
* ``flat_shading`` - the face turned or nodded clearly, yet the brightness of its halves did
  not change with it: one flat surface, not a curved head (see :mod:`.shading`).
* ``glare``, ``tone_range`` - measured for reviewers; lighting alone moves them, so they never
  decide.

Combination (each rule is stated where it is applied in :func:`assess`): a presentation attack
(the hard-gate code ``presentation_attack``) needs either one conclusive cue (a frozen video,
or a very strong moiré), or a static face that was moved as a flat object or sits in a frame,
or two independent screen/print cues; a single screen/print cue without the others is
``suspect`` (review) - except ``moves_with_scene``, ``paper_texture`` and ``flat_shading`` on
a face that speaks or blinks (a hand-held phone's shake, an unusual white balance or a
diffusely lit room produce them too): those only corroborate. Paper texture and flat shading
never make an attack with a static face alone (review), only together with another
screen/print cue. ``live`` needs facial activity, no cue against it, and
enough video.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from verification.face.pad.measures import FrameMeasure, PairMeasure
from verification.types import Check, Evidence, Outcome, TimeWindow

MODEL = "face_mesh+pad_cues"

LIVE, ATTACK, SUSPECT, UNKNOWN, INFO = "live", "attack", "suspect", "unknown", "info"


@dataclass(frozen=True)
class PadConfig:
    """Thresholds, each with the reason for its value in the comment."""

    min_frames: int = 6  # at least ~1.2 s at 5 fps before anything is concluded
    min_span_s: float = 1.2
    # Frozen: the mesh on a repeated image moves < 0.0025 IOD (its own jitter), a seated live
    # person >= 0.008 IOD per 0.2 s in the median (GRID speakers); the face crop of a repeated
    # image changes by < 2 grey levels whatever the codec does to it (x264 and VP8 re-encodes
    # of a frozen frame measured 0-1.5), a speaking face by more.
    frozen_pixel_change: float = 2.0
    frozen_motion: float = 0.003
    frozen_share: float = 0.6  # of all pairs, and ...
    frozen_min_s: float = 2.0  # ... a run at least this long: hard evidence
    frozen_span_review_s: float = 3.0  # a shorter share but a long frozen run: review
    # Facial activity: the inner-lip gap of a speaking face varies with a standard deviation of
    # >= 0.05 IOD (GRID speakers 0.053-0.11); the mesh's jitter on a still picture stays under
    # 0.03 even on 320x240 video.
    activity_mouth_std: float = 0.04
    # A blink: the eye aspect ratio drops below 60 % of its median; trusted only when the eyes
    # are at least this many pixels apart (the mesh's eyelids are noise on tinier faces).
    blink_ratio: float = 0.6
    blink_min_iod_px: float = 30.0
    # Stillness: a seated person sways; the rigid points move >= 0.008 IOD per 0.2 s in
    # practice (GRID speakers 0.009-0.026). Far below that, with no activity, is not natural.
    still_motion: float = 0.004
    # Planar motion: a pair "moved" above this much, and "fits a plane" when the homography
    # residual is below the mesh's jitter on real faces (0.009+ IOD) - parallax and expression
    # of a live face stay above it.
    moving_motion: float = 0.015
    planar_residual: float = 0.008
    planar_share: float = 0.6
    min_moving_pairs: int = 3
    # Scene coplanarity: the face's motion is predicted by the scene's homography to within
    # this share of the motion itself, and the scene moved at least half as much.
    coplanar_ratio: float = 0.3
    coplanar_scene_share: float = 0.5
    coplanar_motion: float = 0.02
    coplanar_share: float = 0.5
    # A frame around the face in at least this share of frames.
    frame_share: float = 0.5
    frame_share_review: float = 0.25
    # A corner of a frame (a side edge and a top or bottom edge) in this share of frames, and
    # the face moving with the scene in this share of its movements: a close-up of a hand-held
    # screen or print whose far edges are out of view.
    corner_share: float = 0.5
    corner_coplanar_share: float = 0.3
    # Moiré: peak-to-median spectral power; real faces (incl. VP8 150 kbps) stay under ~500.
    moire_suspect: float = 550.0
    moire_attack: float = 800.0
    moire_conclusive: float = 1500.0
    # Paper texture, on faces whose eyes are >= 40 px apart (smaller ones are upsampled and
    # lose their fine detail to the resampling). Live faces measured: skin chromaticity
    # >= 0.043 (69 London studio portraits of five ethnic groups; GRID video >= 0.106) and
    # fine detail >= 0.33 (GRID re-encoded 320x240 VP8 at 150 kbps; as recorded >= 0.37).
    # Both below about 80 % of those floors in most frames is outside every live face seen.
    texture_min_iod_px: float = 40.0
    paper_chroma: float = 0.035
    paper_fine_detail: float = 0.27
    paper_share: float = 0.6
    # Flat shading: the pose moved clearly - the face's left/right half-width log-ratio by
    # >= 0.15 (p90 - p10; seated GRID speakers <= 0.083, a print tilted +-30 degrees 0.27) or
    # the mesh's yaw or pitch by >= 8 degrees - yet the brightness log-ratio of the face's
    # halves stayed within 0.04 (the spread of still, speaking GRID faces: <= 0.033).
    shading_min_iod_px: float = 40.0
    shading_min_turn: float = 0.15
    # ... and only when the mesh's yaw moved with it (a turning head and a tilted picture both
    # shift the yaw a little the same way; the mesh's jitter on the contour does not):
    # correlation of turn and yaw at most this (turn falls as yaw rises).
    shading_turn_yaw_corr: float = -0.5
    shading_min_angle_deg: float = 8.0
    flat_shading: float = 0.04


@dataclass(frozen=True)
class CueResult:
    name: str
    verdict: str
    value: float | None
    summary: str
    window: TimeWindow
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PadAssessment:
    decision: str  # live | attack | suspect | unknown
    cues: tuple[CueResult, ...]
    reasons: tuple[str, ...]
    window: TimeWindow
    frames: int

    def cue(self, name: str) -> CueResult | None:
        return next((c for c in self.cues if c.name == name), None)

    def measures(self) -> dict[str, Any]:
        return {c.name: {"verdict": c.verdict, "value": _round(c.value), **c.details}
                for c in self.cues}


def _round(value: float | None, digits: int = 4) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), digits)


def _runs(flags: Sequence[bool], pairs: Sequence[PairMeasure]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    start: float | None = None
    end = 0.0
    for flag, pair in zip(flags, pairs, strict=True):
        if flag:
            if start is None or pair.t0 > end + 1e-6:
                if start is not None:
                    out.append((start, end))
                start = pair.t0
            end = pair.t1
        elif start is not None:
            out.append((start, end))
            start = None
    if start is not None:
        out.append((start, end))
    return out


def _frozen(pairs: Sequence[PairMeasure], cfg: PadConfig, window: TimeWindow) -> CueResult:
    flags = [p.pixel_change < cfg.frozen_pixel_change and p.motion.face_motion < cfg.frozen_motion
             for p in pairs]
    share = sum(flags) / len(pairs)
    runs = _runs(flags, pairs)
    longest = max(runs, key=lambda r: r[1] - r[0], default=None)
    length = 0.0 if longest is None else longest[1] - longest[0]
    details = {"frozen_pairs": int(sum(flags)), "pairs": len(pairs),
               "longest_run_s": _round(length, 2),
               "runs": [[_round(a, 2), _round(b, 2)] for a, b in runs[:20]]}
    if share >= cfg.frozen_share and length >= cfg.frozen_min_s:
        return CueResult("frozen_video", ATTACK, share,
                         f"the video is frozen for {length:.1f} s ({share:.0%} of frame pairs "
                         "identical)", TimeWindow(*longest), details)
    if length >= cfg.frozen_span_review_s:
        return CueResult("frozen_video", SUSPECT, share, f"the video froze for {length:.1f} s",
                         TimeWindow(*longest), details)
    return CueResult("frozen_video", LIVE, share, "the video is not frozen", window, details)


def _blinks(frames: Sequence[FrameMeasure], cfg: PadConfig) -> int:
    eyes = np.array([f.eyes for f in frames])
    iod = np.array([f.iod_px for f in frames])
    if len(eyes) < 3 or np.median(iod) < cfg.blink_min_iod_px:
        return 0
    closed = eyes < cfg.blink_ratio * np.median(eyes)
    return int(np.sum(closed[1:] & ~closed[:-1]) + int(closed[0]))


def _activity(frames: Sequence[FrameMeasure], pairs: Sequence[PairMeasure], cfg: PadConfig,
              window: TimeWindow) -> CueResult:
    mouth = np.array([f.mouth for f in frames])
    mouth_std = float(np.std(mouth))
    blinks = _blinks(frames, cfg)
    motion = float(np.median([p.motion.face_motion for p in pairs]))
    details = {"mouth_std": _round(mouth_std), "mouth_range": _round(float(np.ptp(mouth))),
               "blinks": blinks, "median_face_motion": _round(motion)}
    if mouth_std >= cfg.activity_mouth_std or blinks >= 1:
        what = " and ".join(x for x in ("the mouth moves" if mouth_std >= cfg.activity_mouth_std
                                         else "", f"{blinks} blink(s)" if blinks else "") if x)
        return CueResult("facial_activity", LIVE, mouth_std, f"the face is alive: {what}",
                         window, details)
    if motion < cfg.still_motion:
        return CueResult("facial_activity", SUSPECT, mouth_std,
                         "the face is unnaturally still: no expression, no blink, no sway",
                         window, details)
    return CueResult("facial_activity", UNKNOWN, mouth_std,
                     "no speech or blink seen: nothing shows the face is alive", window, details)


def _planar(pairs: Sequence[PairMeasure], cfg: PadConfig, window: TimeWindow) -> CueResult:
    moving = [p for p in pairs if p.motion.face_motion >= cfg.moving_motion]
    planar = [p for p in moving if p.motion.residual <= cfg.planar_residual]
    share = len(planar) / len(moving) if moving else 0.0
    details = {"moving_pairs": len(moving), "planar_pairs": len(planar),
               "median_residual": _round(float(np.median([p.motion.residual for p in moving])))
               if moving else None}
    if len(moving) < cfg.min_moving_pairs:
        return CueResult("planar_motion", UNKNOWN, None, "too little head motion to test parallax",
                         window, details)
    if share >= cfg.planar_share:
        return CueResult("planar_motion", SUSPECT, share,
                         f"the face moves as a flat picture ({len(planar)} of {len(moving)} "
                         "movements fit one homography)", window, details)
    return CueResult("planar_motion", LIVE, share, "the face's motion is not that of a flat "
                     "picture", window, details)


def _coplanar(pairs: Sequence[PairMeasure], cfg: PadConfig, window: TimeWindow) -> CueResult:
    judged = [p for p in pairs if p.scene is not None
              and p.motion.face_motion >= cfg.coplanar_motion]
    together = [p for p in judged
                if p.scene.residual <= cfg.coplanar_ratio * p.motion.face_motion  # type: ignore[union-attr]
                and p.scene.scene_motion >= cfg.coplanar_scene_share * p.motion.face_motion]  # type: ignore[union-attr]
    share = len(together) / len(judged) if judged else 0.0
    ratios = [p.scene.residual / p.motion.face_motion for p in judged]  # type: ignore[union-attr]
    details = {"judged_pairs": len(judged), "coplanar_pairs": len(together),
               "median_ratio": _round(float(np.median(ratios))) if ratios else None}
    if len(judged) < cfg.min_moving_pairs:
        return CueResult("moves_with_scene", UNKNOWN, None,
                         "too little motion to compare the face with the scene", window, details)
    if share >= cfg.coplanar_share:
        return CueResult("moves_with_scene", SUSPECT, share,
                         f"the face moves with its surroundings as one plane ({len(together)} of "
                         f"{len(judged)} movements)", window, details)
    return CueResult("moves_with_scene", LIVE, share, "the face moves independently of the scene",
                     window, details)


def _frame(frames: Sequence[FrameMeasure], cfg: PadConfig, window: TimeWindow) -> CueResult:
    flags = [f.encloses_face for f in frames]
    share = sum(flags) / len(frames)
    counts: dict[str, int] = {}
    for f in frames:
        for side in f.sides:
            counts[side] = counts.get(side, 0) + 1
    details = {"frames_enclosed": int(sum(flags)), "side_counts": counts}
    if share >= cfg.frame_share:
        return CueResult("frame_around_face", SUSPECT, share,
                         f"the edges of a screen or print enclose the face in {share:.0%} of "
                         "frames", window, details)
    if share >= cfg.frame_share_review:
        return CueResult("frame_around_face", SUSPECT, share,
                         f"straight edges enclose the face in {share:.0%} of frames", window,
                         {**details, "weak": True})
    return CueResult("frame_around_face", LIVE, share, "no screen or print edges around the face",
                     window, details)


def _corner(frames: Sequence[FrameMeasure], coplanar: CueResult, cfg: PadConfig,
            window: TimeWindow) -> CueResult:
    """Part of a frame (a corner: one side edge and a top or bottom edge) stays beside the
    face while the face moves with its surroundings: a close-up of a hand-held screen or print.
    A door frame behind a seated person has the corner but not the shared motion."""
    corners = [bool(f.sides & {"left", "right"}) and bool(f.sides & {"top", "bottom"})
               for f in frames]
    share = sum(corners) / len(frames)
    moving = coplanar.value if coplanar.verdict in (LIVE, SUSPECT) else None
    details = {"frames_with_corner": int(sum(corners)), "coplanar_share": _round(moving)}
    if moving is None or share < cfg.corner_share:
        return CueResult("corner_moves_with_face", UNKNOWN if moving is None else LIVE, share,
                         "no frame corner moving with the face", window, details)
    if moving >= cfg.corner_coplanar_share:
        return CueResult("corner_moves_with_face", SUSPECT, share,
                         f"a screen or print corner beside the face in {share:.0%} of frames, "
                         f"and the face moves with its surroundings ({moving:.0%})", window,
                         details)
    return CueResult("corner_moves_with_face", LIVE, share,
                     "frame edges near the face do not move with it", window, details)


def _moire(frames: Sequence[FrameMeasure], cfg: PadConfig, window: TimeWindow) -> CueResult:
    values = np.array([max(f.moire_luma, f.moire_chroma) for f in frames])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return CueResult("moire", UNKNOWN, None, "frame too small for the moiré test", window)
    level = float(np.median(values))
    details = {"median": _round(level, 1), "max": _round(float(values.max()), 1)}
    if level >= cfg.moire_suspect:
        return CueResult("moire", ATTACK if level >= cfg.moire_conclusive else SUSPECT, level,
                         f"moiré stripes of a filmed display (spectral peak {level:.0f}x)", window,
                         {**details, "strong": level >= cfg.moire_attack})
    return CueResult("moire", LIVE, level, "no moiré", window, details)


def _spread(values: np.ndarray) -> float:
    """p90 - p10: how far a quantity moved, robust to a few outliers."""
    return float(np.percentile(values, 90) - np.percentile(values, 10))


def _paper(frames: Sequence[FrameMeasure], cfg: PadConfig, window: TimeWindow) -> CueResult:
    measured = [f.texture for f in frames
                if f.texture is not None and f.iod_px >= cfg.texture_min_iod_px]
    if len(measured) < cfg.min_frames:
        return CueResult("paper_texture", UNKNOWN, None,
                         "face too small or too dark to judge its texture", window)
    chroma = np.array([m.chroma for m in measured])
    detail = np.array([m.fine_detail for m in measured])
    flags = (chroma < cfg.paper_chroma) & (detail < cfg.paper_fine_detail)
    share = float(flags.mean())
    details = {"frames": len(measured), "median_chroma": _round(float(np.median(chroma))),
               "median_fine_detail": _round(float(np.median(detail))),
               "paper_frames": int(flags.sum())}
    if share >= cfg.paper_share:
        return CueResult("paper_texture", SUSPECT, share,
                         f"the skin has the washed-out colour and missing fine detail of a print "
                         f"({share:.0%} of frames)", window, details)
    return CueResult("paper_texture", LIVE, share, "skin colour and detail of a live face",
                     window, details)


def _shading(frames: Sequence[FrameMeasure], cfg: PadConfig, window: TimeWindow) -> CueResult:
    measured = [f.shading for f in frames
                if f.shading is not None and f.iod_px >= cfg.shading_min_iod_px]
    if len(measured) < cfg.min_frames:
        return CueResult("flat_shading", UNKNOWN, None, "face too small to judge its shading",
                         window)
    turns = np.array([m.turn for m in measured])
    yaws = np.array([m.yaw for m in measured])
    turn, yaw = _spread(turns), _spread(yaws)
    with np.errstate(invalid="ignore", divide="ignore"):
        agreement = float(np.corrcoef(turns, yaws)[0, 1]) if turns.std() > 0 and \
            yaws.std() > 0 else 0.0
    pitch = _spread(np.array([m.pitch for m in measured]))
    left_right = _spread(np.array([m.left_right for m in measured]))
    upper_lower = _spread(np.array([m.upper_lower for m in measured]))
    sideways = (turn >= cfg.shading_min_turn and agreement <= cfg.shading_turn_yaw_corr) \
        or yaw >= cfg.shading_min_angle_deg
    nodding = pitch >= cfg.shading_min_angle_deg
    details = {"turn_spread": _round(turn), "turn_yaw_correlation": _round(agreement, 2),
               "yaw_spread_deg": _round(yaw, 1),
               "pitch_spread_deg": _round(pitch, 1), "left_right_spread": _round(left_right),
               "upper_lower_spread": _round(upper_lower)}
    if not (sideways or nodding):
        return CueResult("flat_shading", UNKNOWN, None,
                         "too little head rotation to compare the shading with", window, details)
    flat = (not sideways or left_right <= cfg.flat_shading) and \
        (not nodding or upper_lower <= cfg.flat_shading)
    response = max(left_right if sideways else 0.0, upper_lower if nodding else 0.0)
    if flat:
        return CueResult("flat_shading", SUSPECT, response,
                         "the face turned but its shading did not change: a flat surface",
                         window, details)
    return CueResult("flat_shading", LIVE, response, "the shading follows the head's rotation",
                     window, details)


def _info(frames: Sequence[FrameMeasure], window: TimeWindow) -> list[CueResult]:
    glare = float(np.median([f.glare for f in frames]))
    tone = float(np.median([f.tone_floor for f in frames]))
    return [CueResult("glare", INFO, glare, f"largest glare blob {glare:.1%} of the face region",
                      window),
            CueResult("tone_range", INFO, tone, f"darkest/brightest tone ratio {tone:.2f}", window)]


def assess(frames: Sequence[FrameMeasure], pairs: Sequence[PairMeasure],
           config: PadConfig | None = None) -> PadAssessment:
    cfg = config or PadConfig()
    if not frames:
        return PadAssessment(UNKNOWN, (), ("no face was analysed",), TimeWindow(0.0, 0.0), 0)
    window = TimeWindow(frames[0].t, frames[-1].t)
    if len(frames) < cfg.min_frames or not pairs or window.end - window.start < cfg.min_span_s:
        return PadAssessment(UNKNOWN, (), ("too little video of the face to judge",), window,
                             len(frames))
    frozen = _frozen(pairs, cfg, window)
    activity = _activity(frames, pairs, cfg, window)
    planar = _planar(pairs, cfg, window)
    coplanar = _coplanar(pairs, cfg, window)
    frame = _frame(frames, cfg, window)
    corner = _corner(frames, coplanar, cfg, window)
    pattern = _moire(frames, cfg, window)
    paper = _paper(frames, cfg, window)
    flat = _shading(frames, cfg, window)
    cues = (frozen, activity, planar, coplanar, frame, corner, pattern, paper, flat,
            *_info(frames, window))

    attack: list[str] = []
    if frozen.verdict == ATTACK:
        attack.append("frozen_video")
    if pattern.verdict == ATTACK:
        attack.append("moire")
    static = activity.verdict != LIVE
    # A face that never moves on its own, yet was moved as a flat object or sits in a frame.
    # (Paper texture and flat shading are not enough here: a still, silent applicant in odd
    # light would be rejected on measures whose live range is known from few people.)
    for cue in (planar, coplanar, frame):
        if static and cue.verdict == SUSPECT and not cue.details.get("weak"):
            attack.append(f"static_face+{cue.name}")
    # Two independent screen/print cues agree.
    screen = [c.name for c in (frame, coplanar, pattern, paper, flat)
              if c.verdict in (SUSPECT, ATTACK) and not c.details.get("weak")
              and (c.name != "moire" or c.details.get("strong"))]
    if len(screen) >= 2:
        attack.append("+".join(screen))
    if attack:
        return PadAssessment(ATTACK, cues, tuple(dict.fromkeys(attack)), window, len(frames))
    # Alone, a face moving with its scene is no reason to doubt a face that speaks or blinks:
    # a hand-held phone's rotation shakes face and room alike; nor are pale skin (an odd
    # white balance) or unchanging shading (a diffusely lit room). They count above, with
    # others.
    corroborating = (coplanar, paper, flat)
    suspect = [c.name for c in cues if c.verdict in (SUSPECT, ATTACK)
               and not (any(c is x for x in corroborating) and not static)]
    if suspect:
        return PadAssessment(SUSPECT, cues, tuple(suspect), window, len(frames))
    if activity.verdict == LIVE:
        return PadAssessment(LIVE, cues, (), window, len(frames))
    return PadAssessment(UNKNOWN, cues, ("no_facial_activity",), window, len(frames))


CUE_CODES = {
    "frozen_video": "video_frozen",
    "facial_activity": "face_too_still",
    "planar_motion": "face_moves_as_plane",
    "moves_with_scene": "face_moves_with_scene",
    "frame_around_face": "screen_or_print_frame",
    "corner_moves_with_face": "screen_or_print_corner",
    "moire": "moire_pattern",
    "paper_texture": "paper_texture",
    "flat_shading": "flat_shading_under_pose_change",
}


def to_evidence(assessment: PadAssessment, latency_ms: float | None = None) -> list[Evidence]:
    """Evidence for fusion: the attack (hard gate) or each suspicious cue (review), and one
    summary that supports liveness only when every passive cue does."""
    common: dict[str, Any] = {"model": MODEL, "latency_ms": latency_ms}
    out: list[Evidence] = []
    details = {"decision": assessment.decision, "reasons": list(assessment.reasons),
               "frames": assessment.frames, "cues": assessment.measures()}
    if assessment.decision == ATTACK:
        named = {c.name: c for c in assessment.cues}
        parts = [named[n].summary for reason in assessment.reasons
                 for n in reason.replace("static_face+", "").split("+") if n in named]
        if any(r.startswith("static_face") for r in assessment.reasons):
            parts.insert(0, named["facial_activity"].summary)
        windows = [named[n].window for reason in assessment.reasons
                   for n in reason.replace("static_face+", "").split("+") if n in named]
        window = TimeWindow(min(w.start for w in windows), max(w.end for w in windows)) \
            if windows else assessment.window
        out.append(Evidence(Check.FACE_LIVENESS, Outcome.CONTRADICTS, window,
                            "presentation attack: " + "; ".join(dict.fromkeys(parts)), score=0.0,
                            code="presentation_attack", details=details, **common))
    elif assessment.decision == SUSPECT:
        for cue in assessment.cues:
            if cue.name in assessment.reasons:
                out.append(Evidence(Check.FACE_LIVENESS, Outcome.CONTRADICTS, cue.window,
                                    cue.summary, score=_round(cue.value),
                                    code=CUE_CODES.get(cue.name, cue.name),
                                    details={"cue": cue.name, **cue.details}, **common))
    if assessment.decision == LIVE:
        out.append(Evidence(Check.FACE_LIVENESS, Outcome.SUPPORTS, assessment.window,
                            "passive cues support a live person: "
                            + assessment.cue("facial_activity").summary.split(": ", 1)[-1],  # type: ignore[union-attr]
                            score=1.0, code="passive_liveness", details=details, **common))
    elif assessment.decision == UNKNOWN:
        reason = assessment.reasons[0] if assessment.reasons else "undecided"
        text = {"no_facial_activity": "no passive cue shows a live person (no speech, no blink)"
                }.get(reason, reason)
        out.append(Evidence(Check.FACE_LIVENESS, Outcome.INCONCLUSIVE, assessment.window,
                            text, code="passive_liveness_inconclusive", details=details, **common))
    else:
        out.append(Evidence(Check.FACE_LIVENESS, Outcome.INCONCLUSIVE, assessment.window,
                            f"passive liveness: {assessment.decision}",
                            code="passive_liveness_summary", details=details, **common))
    return out
