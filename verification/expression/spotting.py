"""Micro-expression spotting: brief, low-amplitude facial movements in the motion time series.

Pure functions over the per-frame samples the cue collects (no models here, so every rule is
testable with synthetic numbers). The inputs per analysed centre frame are the *transient*
movement of each facial region (:mod:`verification.expression.flow`: movement away from the
frames half an interval before and after, and back), the blendshapes' own transient rise, the
eyelid (blink) rise and the residual head motion.

Rules, in order, and why:

1. **Exclusions.** A blink moves the eyelids and drags the brows, so the upper face (brows,
   glabella, eyes) is not read around a blink; a gaze shift moves the lids, so the eyes are not
   read around one. Speech moves the lips, the lip corners and the nostrils, so the lower face
   and the nose are not read while the applicant speaks (voice activity, padded: the mouth moves
   a little before the voice starts and settles after it stops) nor where the audio is missing
   and the mouth moves like talking. When the rigid skin itself moved a lot (a fast head turn),
   the alignment cannot be trusted and the frame is skipped. Each sample compares its centre
   frame with the frames ``k`` before and after it, so every exclusion window is widened by ``k``.
2. **The person's own baseline.** Each region's noise level is the median of its transient
   amplitude over the frames where it may be read, separately while speaking and while silent
   (talking moves the brows too): mesh jitter, compression and the person's own restlessness set
   it. A region is active when its amplitude is ``threshold`` times that level *and* at least
   ``min_pixels`` pixels of the original frame and ``min_amplitude`` eye distances: a movement a
   reviewer could not see in the recording is not reported. A blendshape of the region rising by
   ``blendshape_rise`` or more also makes it active (low-resolution video, where flow is weak).
3. **Events.** Consecutive active frames form an event; its apex is the frame of the largest
   relative amplitude; onset and offset are where the apex region's amplitude falls below
   ``edge_fraction`` of its apex value. Events longer than ``max_duration_s`` are not
   micro-expressions (the flow comparison already suppresses them); events whose apex
   amplitude exceeds ``macro_amplitude`` are reported as ``brief_expression`` rather than
   ``micro``. At the normal frame rate an event must last at least two frames at half the
   threshold (a visible 150-ms movement spans about four frames at 25 fps): one frame alone is
   a compression artefact or a mesh jump.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from verification.expression.regions import EYE_REGIONS, LOWER_FACE, REGION_NAMES
from verification.face.blendshapes import BLENDSHAPE_NAMES
from verification.face.expression import LABELS

UPPER_FACE: frozenset[str] = frozenset({"brow_left", "brow_right", "glabella", *EYE_REGIONS})
SPEECH_REGIONS: frozenset[str] = frozenset({*LOWER_FACE, "nose"})

# Blendshapes that belong to each region (for the blendshape trigger and the labels). Gaze
# (eyeLook*) and blinks are not expressions and are never used.
REGION_BLENDSHAPES: dict[str, tuple[str, ...]] = {
    "brow_left": ("browDownLeft", "browOuterUpLeft", "browInnerUp"),
    "brow_right": ("browDownRight", "browOuterUpRight", "browInnerUp"),
    "glabella": ("browDownLeft", "browDownRight", "browInnerUp"),
    "eye_left": ("eyeSquintLeft", "eyeWideLeft"),
    "eye_right": ("eyeSquintRight", "eyeWideRight"),
    "nose": ("noseSneerLeft", "noseSneerRight"),
    "mouth_corner_left": ("mouthSmileLeft", "mouthFrownLeft", "mouthDimpleLeft",
                          "mouthStretchLeft", "cheekSquintLeft"),
    "mouth_corner_right": ("mouthSmileRight", "mouthFrownRight", "mouthDimpleRight",
                           "mouthStretchRight", "cheekSquintRight"),
    "mouth": ("mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthFunnel",
              "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
              "mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft",
              "mouthLowerDownRight", "jawOpen", "mouthClose", "mouthLeft", "mouthRight"),
}
EXPRESSIVE_BLENDSHAPES: tuple[str, ...] = tuple(dict.fromkeys(
    name for names in REGION_BLENDSHAPES.values() for name in names))
_BS_INDEX = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}
_EXPRESSIVE_IDX = np.array([_BS_INDEX[n] for n in EXPRESSIVE_BLENDSHAPES])
_GAZE_IDX = np.array([i for i, n in enumerate(BLENDSHAPE_NAMES) if n.startswith("eyeLook")])
_REGION_BS_IDX = {r: np.array([_BS_INDEX[n] for n in names])
                  for r, names in REGION_BLENDSHAPES.items()}


@dataclass(frozen=True)
class SpottingConfig:
    """Spotting parameters; the defaults are argued in the module docstring and the eval."""

    max_duration_s: float = 0.5  # longest movement that counts as a micro-expression
    threshold: float = 6.0  # active: amplitude >= threshold x the region's own noise level
    min_amplitude: float = 0.005  # and >= this many inter-ocular distances
    min_pixels: float = 1.0  # and >= this many pixels of the source frame (else invisible)
    macro_amplitude: float = 0.05  # apex above this: a brief expression, not a micro one
    blendshape_rise: float = 0.3  # a region blendshape rising this much also activates it
    edge_fraction: float = 0.2  # onset/offset: apex region amplitude falls below this share
    blink_rise: float = 0.15  # eyeBlink rise that marks a blink
    blink_pad_s: float = 0.12
    gaze_shift: float = 0.15  # an eyeLook* blendshape moving this much: the eyes looked away
    speech_pad_before_s: float = 0.25
    speech_pad_after_s: float = 0.35
    max_rigid_residual: float = 0.06  # rigid skin moved more than this (IOD): head motion
    min_baseline_samples: int = 25  # fewer samples: use default_noise as the noise level
    default_noise: float = 0.002
    noise_floor: float = 0.0005
    min_fps: float = 12.0  # below: short events fall between frames; reported as unreliable
    min_dominant_rise: float = 0.03  # blendshape rise named as dominant at the apex
    min_expression_rise: float = 0.05  # fer class probability rise named at the apex

    @property
    def half_interval_s(self) -> float:
        """``k``: the flow compares each frame with the frames this far before and after."""
        return self.max_duration_s / 2.0

    def __post_init__(self) -> None:
        if self.max_duration_s <= 0 or self.threshold <= 0 or self.min_amplitude < 0:
            raise ValueError("max_duration_s and threshold must be > 0, min_amplitude >= 0")


@dataclass(frozen=True, eq=False)
class MotionSample:
    """What the cue measured at one centre frame (arrays in :data:`REGION_NAMES` order)."""

    pts: float
    amplitude: np.ndarray  # (R,) transient amplitude per region, IOD
    direction: np.ndarray  # (R, 2) mean movement rest -> apex (dx, dy), IOD, y down
    strain: np.ndarray  # (R,)
    rigid_residual: float  # IOD
    blendshape_rise: np.ndarray  # (52,) min(b[c] - b[before], b[c] - b[after])
    expression_rise: np.ndarray  # (7,) same for the fused expression probabilities
    blink_rise: float  # max over both eyes of the eyeBlink rise
    iod_px: float = float("nan")  # inter-ocular distance in the source frame, pixels


@dataclass(frozen=True)
class SpottedEvent:
    """One spotted movement: times, where, what, how strong."""

    onset: float
    apex: float
    offset: float
    kind: str  # "micro" | "brief_expression"
    regions: tuple[str, ...]  # active regions at the apex, strongest first
    amplitude: float  # apex amplitude of the strongest region, IOD
    relative: float  # the same in units of that region's own noise level
    blendshapes: tuple[tuple[str, float], ...]  # dominant blendshape rises at the apex
    expression: str | None  # fer class whose probability rose most at the apex
    directions: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.offset - self.onset

    def to_json(self) -> dict:
        return {"onset": round(self.onset, 3), "apex": round(self.apex, 3),
                "offset": round(self.offset, 3), "duration": round(self.duration, 3),
                "kind": self.kind, "regions": list(self.regions),
                "amplitude_iod": round(self.amplitude, 4), "relative": round(self.relative, 2),
                "blendshapes": {n: round(v, 3) for n, v in self.blendshapes},
                "expression": self.expression}


@dataclass(frozen=True)
class SpottingResult:
    events: tuple[SpottedEvent, ...]
    noise: dict[str, float]  # per-region noise level (IOD) the thresholds used
    samples: int
    fps: float  # analysed centre frames per second
    excluded: dict[str, int]  # region-frames skipped, by reason
    long_movements: int  # active stretches longer than max_duration_s (not reported)
    min_fps: float = SpottingConfig.min_fps

    @property
    def reliable(self) -> bool:
        """Enough centre frames per second that a 150-ms movement cannot fall between them."""
        return self.samples > 0 and self.fps >= self.min_fps


def _windows_mask(times: np.ndarray, windows: Sequence[tuple[float, float]], before: float,
                  after: float) -> np.ndarray:
    mask = np.zeros(len(times), bool)
    for start, end in windows:
        mask |= (times >= start - before) & (times <= end + after)
    return mask


def _sample_rate(times: np.ndarray) -> float:
    if len(times) < 2:
        return 0.0
    steps = np.diff(times)
    steps = steps[steps > 0]
    return float(1.0 / np.median(steps)) if len(steps) else 0.0


def spot_events(samples: Sequence[MotionSample], speech: Sequence[tuple[float, float]] = (),
                config: SpottingConfig = SpottingConfig(),
                unknown_speech: Sequence[tuple[float, float]] = ()) -> SpottingResult:
    """Find micro-expression events in a session's motion samples.

    ``speech``: voice-activity segments (media seconds). ``unknown_speech``: stretches where
    it is not known whether the applicant spoke (no audio, lost audio) *and* the mouth moved
    like speech; the lower face is not read there either.
    """
    cfg = config
    ordered = sorted(samples, key=lambda s: s.pts)
    n, regions = len(ordered), len(REGION_NAMES)
    if n == 0:
        return SpottingResult((), {}, 0, 0.0, {}, 0, cfg.min_fps)
    times = np.array([s.pts for s in ordered])
    amp = np.stack([s.amplitude for s in ordered]).astype(np.float64)
    rise = np.stack([s.blendshape_rise for s in ordered]).astype(np.float64)
    blink = np.array([s.blink_rise for s in ordered])
    gaze = np.abs(rise[:, _GAZE_IDX]).max(axis=1) if len(_GAZE_IDX) else np.zeros(n)
    rigid = np.array([s.rigid_residual for s in ordered])

    eligible = np.ones((n, regions), bool)
    excluded = {"head_motion": 0, "blink": 0, "gaze": 0, "speech": 0}
    moving = ~(rigid <= cfg.max_rigid_residual)  # NaN counts as moving
    # A sample compares its centre frame with the frames k before and after it, so a blink or
    # speech anywhere in that span contaminates it: the exclusion windows are widened by k.
    k = cfg.half_interval_s
    blink_times = times[blink >= cfg.blink_rise]
    blinking = _windows_mask(times, [(t, t) for t in blink_times], cfg.blink_pad_s + k,
                             cfg.blink_pad_s + k)
    gaze_times = times[gaze >= cfg.gaze_shift]
    gazing = _windows_mask(times, [(t, t) for t in gaze_times], k, k)
    speaking = _windows_mask(times, speech, cfg.speech_pad_before_s + k,
                             cfg.speech_pad_after_s + k) | \
        _windows_mask(times, unknown_speech, k, k)
    for j, name in enumerate(REGION_NAMES):
        if name in UPPER_FACE:
            excluded["blink"] += int((blinking & eligible[:, j]).sum())
            eligible[blinking, j] = False
        if name in EYE_REGIONS:
            excluded["gaze"] += int((gazing & eligible[:, j]).sum())
            eligible[gazing, j] = False
        if name in SPEECH_REGIONS:
            excluded["speech"] += int((speaking & eligible[:, j]).sum())
            eligible[speaking, j] = False
        excluded["head_motion"] += int((moving & eligible[:, j]).sum())
        eligible[moving, j] = False

    # Each region's noise level, separately while speaking and while silent: talking moves
    # the brows too (visual prosody), so a brow movement during speech must stand out from the
    # person's own brow movement *during speech*.
    talking = _windows_mask(times, speech, cfg.speech_pad_before_s, cfg.speech_pad_after_s)
    noise = np.empty((n, regions))
    levels: dict[str, float] = {}
    for j, name in enumerate(REGION_NAMES):
        pooled = _level(amp[eligible[:, j], j], cfg)
        for condition, rows in (("speaking", talking), ("silent", ~talking)):
            values = amp[eligible[:, j] & rows, j]
            level = _level(values, cfg) if len(values) >= cfg.min_baseline_samples else pooled
            noise[rows, j] = level
            if rows.any():
                levels[f"{name}_{condition}"] = level
    relative = amp / noise
    iod_px = np.array([s.iod_px for s in ordered], dtype=np.float64)
    floor = np.where(np.isfinite(iod_px) & (iod_px > 0),
                     np.maximum(cfg.min_amplitude, cfg.min_pixels / np.maximum(iod_px, 1e-6)),
                     cfg.min_amplitude)
    # level >= 1 means "active" for either measure: flow relative to the noise, in units of
    # the threshold, or the region's strongest blendshape rise in units of blendshape_rise.
    bs_level = np.stack([rise[:, _REGION_BS_IDX[name]].max(axis=1) for name in REGION_NAMES],
                        axis=1) / cfg.blendshape_rise
    flow_active = (relative >= cfg.threshold) & (amp >= floor[:, None])
    level = np.maximum(np.where(amp >= floor[:, None] / 2, relative / cfg.threshold, 0.0),
                       bs_level)
    active = (flow_active | (bs_level >= 1.0)) & eligible
    any_active = active.any(axis=1)

    fps = _sample_rate(times)
    max_gap = max(1.5 / fps if fps > 0 else 0.0, 0.1)
    events: list[SpottedEvent] = []
    long_movements = spikes = 0
    i = 0
    while i < n:
        if not any_active[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and any_active[j + 1] and times[j + 1] - times[j] <= max_gap:
            j += 1
        event = _event(ordered, times, amp, relative, level, active, eligible, i, j, cfg,
                       min_support=2 if fps >= cfg.min_fps else 1)
        if event == "long":
            long_movements += 1
        elif event == "spike":
            spikes += 1
        elif isinstance(event, SpottedEvent):
            events.append(event)
        i = j + 1
    excluded["single_frame_spikes"] = spikes
    return SpottingResult(tuple(events), levels, n, fps, excluded, long_movements, cfg.min_fps)


def _level(values: np.ndarray, cfg: SpottingConfig) -> float:
    """A region's noise level: the median transient amplitude (the default when too few)."""
    level = float(np.median(values)) if len(values) >= cfg.min_baseline_samples \
        else cfg.default_noise
    return max(level, cfg.noise_floor)


def _event(samples: Sequence[MotionSample], times: np.ndarray, amp: np.ndarray,
           relative: np.ndarray, level: np.ndarray, active: np.ndarray, eligible: np.ndarray,
           first: int, last: int, cfg: SpottingConfig,
           min_support: int) -> SpottedEvent | str:
    span = slice(first, last + 1)
    score = np.where(active[span], level[span], 0.0)
    k, region = np.unravel_index(int(np.argmax(score)), score.shape)
    apex = first + int(k)
    # onset / offset: where the apex region's level falls below a share of its apex value
    edge = level[apex, region] * cfg.edge_fraction
    lo = apex
    while lo - 1 >= 0 and eligible[lo - 1, region] and level[lo - 1, region] > edge and \
            times[apex] - times[lo - 1] <= cfg.max_duration_s * 2:
        lo -= 1
    hi = apex
    while hi + 1 < len(times) and eligible[hi + 1, region] and level[hi + 1, region] > edge and \
            times[hi + 1] - times[apex] <= cfg.max_duration_s * 2:
        hi += 1
    onset, offset = float(times[lo]), float(times[hi])
    if offset - onset > cfg.max_duration_s:
        return "long"
    # A visible movement lasts several frames (150 ms is 4 frames at 25 fps); one frame alone
    # above the threshold is noise (a compression artefact, a mesh jump).
    support = int((level[lo:hi + 1, region] >= 0.5).sum())
    if support < min_support:
        return "spike"
    sample = samples[apex]
    at_apex = [(REGION_NAMES[r], level[apex, r]) for r in range(len(REGION_NAMES))
               if eligible[apex, r] and (active[apex, r] or level[apex, r] >= 0.5)]
    at_apex.sort(key=lambda item: -item[1])
    names = tuple(name for name, _ in at_apex) or (REGION_NAMES[region],)
    allowed = {b for name in names for b in REGION_BLENDSHAPES[name]}
    rises = [(BLENDSHAPE_NAMES[i], float(sample.blendshape_rise[i])) for i in _EXPRESSIVE_IDX
             if BLENDSHAPE_NAMES[i] in allowed and
             sample.blendshape_rise[i] >= cfg.min_dominant_rise]
    rises.sort(key=lambda item: -item[1])
    expression = None
    if sample.expression_rise.size == len(LABELS):
        best = int(np.argmax(sample.expression_rise))
        if sample.expression_rise[best] >= cfg.min_expression_rise:
            expression = LABELS[best]
    strongest = amp[apex, region]
    return SpottedEvent(
        onset=onset, apex=float(times[apex]), offset=offset,
        kind="micro" if strongest <= cfg.macro_amplitude else "brief_expression",
        regions=names, amplitude=float(strongest), relative=float(relative[apex, region]),
        blendshapes=tuple(rises[:4]), expression=expression,
        directions={name: (float(sample.direction[REGION_NAMES.index(name), 0]),
                           float(sample.direction[REGION_NAMES.index(name), 1]))
                    for name in names})
