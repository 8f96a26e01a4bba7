"""Lip-speech sync: does the mouth move with the speech, at a plausible audio-video lag?

Signals (both resampled to 100 per second):

* mouth opening per video frame (:mod:`verification.voice.mouth`): outer-lip height over the
  inter-ocular distance, from the face mesh;
* the speech envelope (:mod:`verification.voice.envelope`): 300-3000 Hz log energy.

Both are band-passed to the syllable-rate modulation band (1.5-6 Hz): slower changes (speaking vs
silent, head nods) would make any speech correlate with any talking face, faster ones are pitch
and tracking jitter. Each is winsorised at 3 robust standard deviations (a one-frame tracking
glitch must not decide), then correlated (Pearson) over sliding 2 s windows covering the speech
and 0.3 s either side, at lags from -1 s to +1 s in 20 ms steps; the per-window curves are
averaged. A positive lag means the audio comes later than the video.

Decision. How high a correlation must be depends on how much speech it rests on: over 2 s of
speech, *unrelated* speech reaches a best in-sync correlation of 0.33 on average with a spread
(one standard deviation) of 0.13, while the speaker's own speech reaches about 0.55
(``benchmarks/eval_lipsync.py`` prints both distributions; unrelated speech is LibriSpeech laid
under the GRID mouths, never the attack set). Averaging ``k`` independent 2 s windows shrinks
the spread by sqrt(k), so the verdict is a test against both hypotheses at the precision the
speech allows: "in sync" needs a correlation that unrelated speech reaches 1 time in 1000
(z = 3.09), "out of sync" one that the speaker's own speech falls to 1 time in 100 (z = 2.33):

* ``no_mouth_motion`` - the face is tracked but the mouth stays still through most of the
  speech (a still photo, or a frozen frame with live audio);
* ``out_of_sync`` - the best alignment lies outside +-200 ms, is significant, and clearly beats
  every alignment inside (shifted audio); or the in-sync correlation is significantly below
  what the speaker's own speech gives (dubbed audio);
* ``in_sync`` - the best alignment is inside +-200 ms and significantly above unrelated speech;
* ``inconclusive`` - too little speech or face, or a correlation the speech is too short to
  place: on 2 s of speech the two hypotheses overlap, so short utterances often end here
  (review, not reject); the interview's answers add up (see the session summary).

The method reads timing only - no phonemes, no language model - so it is the same for Mandarin
as for English (validated on English only: no Mandarin audio-visual recordings were available).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from verification.voice.envelope import ENVELOPE_RATE, floor_envelope

BAND_HZ = (1.5, 6.0)
SYNC_LAG_S = 0.2  # the audio-video offset accepted as in sync
OFF_LAG_MIN_S = 0.3  # lags at least this far out count as "another alignment"
MAX_LAG_S = 1.0
LAG_STEP_S = 0.02
MARGIN_S = 0.3
WINDOW_S = 2.0
WINDOW_HOP_S = 1.0
MAX_FRAME_GAP_S = 0.15  # longer stretches without a tracked mouth are holes, not interpolated
MIN_FACE_COVERAGE = 0.7
MIN_SPEECH_S = 0.6
# The mouth signal is band-passed up to BAND_HZ[1] = 6 Hz, so it needs more than 12 samples a
# second in principle; 12.5 analysed fps gives the same verdicts as 25 on GRID, 5 fps rejects
# real speakers (3 of 6 in `eval_lipsync --fps 5`). Below this rate a window is not judged.
MIN_MOUTH_FPS = 10.0
# Outer-lip height / inter-ocular distance: its 5-95 % range within 0.6 s of speech. Talking
# GRID faces move 0.10-0.30; a still photo (or frozen frame), even re-encoded at low bitrate,
# stays under 0.01.
MOTION_FLOOR = 0.03
MOTION_WINDOW_S = 0.6
STILL_SHARE = 0.5  # share of the speech windows with a still mouth that means "not talking"
# Correlation model (module notes; measured by benchmarks/eval_lipsync.py).
NULL_MEAN = 0.33  # best in-sync r of unrelated speech over one 2 s window
SYNC_MEAN = 0.54  # ... of the speaker's own speech
WINDOW_SD = 0.12  # spread of r over one window (unrelated speech; own speech spreads less)
Z_PASS = 3.09  # one-sided 0.1 %: over a hundred attack trials, expect no false pass
Z_FAIL = 2.33  # one-sided 1 %: a genuine speaker is rejected on lip sync 1 time in 100
OFFSET_MARGIN = 0.1


class SyncVerdict(StrEnum):
    IN_SYNC = "in_sync"
    OUT_OF_SYNC = "out_of_sync"
    NO_MOUTH_MOTION = "no_mouth_motion"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class SyncResult:
    verdict: SyncVerdict
    reason: str
    start: float
    end: float
    speech_s: float
    correlation: float | None = None  # best inside +-SYNC_LAG_S
    lag_s: float | None = None
    off_correlation: float | None = None  # best outside +-OFF_LAG_MIN_S
    off_lag_s: float | None = None
    mouth_motion: float | None = None
    face_coverage: float = 0.0
    windows: int = 0
    pass_threshold: float | None = None
    fail_threshold: float | None = None
    region_s: float = 0.0  # audio the curve was computed over (speech plus margins)
    curve: tuple[float, ...] = ()  # correlation at each lag of lag_grid() (not in details)

    def to_details(self) -> dict[str, object]:
        def r(v: float | None, n: int = 3) -> float | None:
            return None if v is None else round(float(v), n)
        return {"verdict": self.verdict.value, "reason": self.reason,
                "correlation": r(self.correlation), "lag_s": r(self.lag_s, 2),
                "off_correlation": r(self.off_correlation), "off_lag_s": r(self.off_lag_s, 2),
                "mouth_motion": r(self.mouth_motion), "face_coverage": r(self.face_coverage, 2),
                "speech_s": r(self.speech_s, 2), "windows": self.windows,
                "pass_threshold": r(self.pass_threshold), "fail_threshold": r(self.fail_threshold)}


def bandpass(x: np.ndarray, low_hz: float, high_hz: float, rate: float = ENVELOPE_RATE,
             transition_hz: float = 0.5) -> np.ndarray:
    """Zero-phase FFT band-pass with raised-cosine edges (no ringing from brick-wall edges)."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n < 4:
        return x - x.mean() if n else x
    pad = min(n - 1, int(rate))
    padded = np.pad(x - x.mean(), (pad, pad), mode="reflect")
    spectrum = np.fft.rfft(padded)
    freqs = np.fft.rfftfreq(len(padded), 1.0 / rate)

    def ramp(f: np.ndarray, edge: float) -> np.ndarray:
        u = np.clip((f - (edge - transition_hz / 2)) / transition_hz, 0.0, 1.0)
        return 0.5 - 0.5 * np.cos(np.pi * u)

    gain = ramp(freqs, low_hz) * (1.0 - ramp(freqs, high_hz))
    return np.fft.irfft(spectrum * gain, len(padded))[pad:pad + n]


def winsorize(x: np.ndarray, k: float = 3.0) -> np.ndarray:
    """Clip at median +- k robust standard deviations (1.4826 MAD)."""
    med = float(np.median(x))
    mad = 1.4826 * float(np.median(np.abs(x - med)))
    if mad <= 0:
        return x
    return np.clip(x, med - k * mad, med + k * mad)


def thresholds(region_s: float) -> tuple[float, float]:
    """(pass, fail) correlation thresholds for speech judged over ``region_s`` seconds: the
    number of independent 2 s windows sets the precision of the averaged correlation."""
    k = max(1.0, region_s / WINDOW_S)
    se = WINDOW_SD / np.sqrt(k)
    return NULL_MEAN + Z_PASS * se, SYNC_MEAN - Z_FAIL * se


def mouth_motion(times: np.ndarray, mouth: np.ndarray, start: float, end: float
                 ) -> tuple[float, float]:
    """(5-95 % range of the mouth over the speech, share of ``MOTION_WINDOW_S`` windows of the
    speech in which the mouth stays within ``MOTION_FLOOR``)."""
    inside = (times >= start) & (times <= end) & np.isfinite(mouth)
    values = mouth[inside]
    if len(values) < 3:
        return 0.0, 1.0
    overall = float(np.percentile(values, 95) - np.percentile(values, 5))
    edges = np.arange(start, max(end - MOTION_WINDOW_S / 2, start) + 1e-9, MOTION_WINDOW_S)
    still = judged = 0
    for a in edges:
        sel = inside & (times >= a) & (times < a + MOTION_WINDOW_S)
        if sel.sum() < 3:
            continue
        judged += 1
        w = mouth[sel]
        still += float(np.percentile(w, 95) - np.percentile(w, 5)) < MOTION_FLOOR
    return overall, (still / judged if judged else 1.0)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x = x - x.mean()
    y = y - y.mean()
    denom = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / denom) if denom > 0 else 0.0


def mouth_on_grid(times: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Mouth values linearly interpolated onto ``grid``; NaN where no tracked frame is within
    ``MAX_FRAME_GAP_S`` (a missing face is a hole, not a flat line)."""
    times = np.asarray(times, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(values)
    times, values = times[ok], values[ok]
    out = np.full(len(grid), np.nan)
    if len(times) < 2:
        return out
    order = np.argsort(times)
    times, values = times[order], values[order]
    out = np.interp(grid, times, values)
    idx = np.clip(np.searchsorted(times, grid), 1, len(times) - 1)
    nearest = np.minimum(np.abs(grid - times[idx - 1]), np.abs(times[idx] - grid))
    out[nearest > MAX_FRAME_GAP_S] = np.nan
    return out


def assess_sync(mouth_times: np.ndarray, mouth_values: np.ndarray, env_values: np.ndarray,
                env_t0: float, start: float, end: float, speech_s: float | None = None
                ) -> SyncResult:
    """Judge lip-speech sync for the speech between media times ``start`` and ``end``.

    ``env_values`` is the envelope at 100 per second, value 0 at media time ``env_t0``;
    ``mouth_*`` are per-frame mouth openings (NaN for frames without a tracked face).
    """
    speech_s = end - start if speech_s is None else speech_s
    base = {"start": start, "end": end, "speech_s": speech_s}
    if speech_s < MIN_SPEECH_S:
        return SyncResult(SyncVerdict.INCONCLUSIVE, "too little speech", **base)
    env = np.asarray(env_values, dtype=np.float64)
    lo = max(0, int(np.floor((start - MARGIN_S - env_t0) * ENVELOPE_RATE)))
    hi = min(len(env), int(np.ceil((end + MARGIN_S - env_t0) * ENVELOPE_RATE)))
    if hi - lo < int(MIN_SPEECH_S * ENVELOPE_RATE):
        return SyncResult(SyncVerdict.INCONCLUSIVE, "audio not available", **base)
    max_shift = int(round(MAX_LAG_S * ENVELOPE_RATE))
    # Mouth on a grid wide enough for every lag; envelope over the region (with filter context).
    ctx = int(ENVELOPE_RATE)  # 1 s of filter context each side where available
    e_lo, e_hi = max(0, lo - ctx), min(len(env), hi + ctx)
    y_full = bandpass(floor_envelope(env[e_lo:e_hi]), *BAND_HZ)
    y = winsorize(y_full[lo - e_lo: hi - e_lo])
    grid = env_t0 + np.arange(lo - max_shift - ctx, hi + max_shift + ctx) / ENVELOPE_RATE
    mouth = mouth_on_grid(mouth_times, mouth_values, grid)
    region = slice(max_shift + ctx, max_shift + ctx + (hi - lo))  # the region inside the grid
    coverage = float(np.mean(np.isfinite(mouth[region])))
    base["face_coverage"] = coverage
    if coverage < MIN_FACE_COVERAGE:
        return SyncResult(SyncVerdict.INCONCLUSIVE, "mouth not tracked during the speech",
                          **base)
    motion, still_share = mouth_motion(grid[region], mouth[region], start, end)
    base["mouth_motion"] = motion
    if still_share >= STILL_SHARE:
        return SyncResult(SyncVerdict.NO_MOUTH_MOTION,
                          f"the mouth stays still through {still_share:.0%} of the speech",
                          **base)
    # A still mouth is still at any frame rate; *following* the speech needs the 6 Hz band.
    times = np.asarray(mouth_times, dtype=np.float64)
    sampled = int(np.count_nonzero((times >= start) & (times <= end)))
    if end > start and sampled / (end - start) < MIN_MOUTH_FPS:
        return SyncResult(SyncVerdict.INCONCLUSIVE,
                          f"mouth seen {sampled / (end - start):.1f} times a second; lip sync "
                          f"needs {MIN_MOUTH_FPS:.0f}", **base)
    # Holes (no face) inside the grid: fill with the nearest tracked value before filtering so
    # they carry no motion; windows are judged on tracked frames only.
    valid = np.isfinite(mouth)
    filled = np.interp(np.arange(len(mouth)), np.flatnonzero(valid), mouth[valid])
    x_full = winsorize(bandpass(filled, *BAND_HZ))
    lag_steps = np.arange(-max_shift, max_shift + 1, int(round(LAG_STEP_S * ENVELOPE_RATE)))
    n = hi - lo
    win = int(WINDOW_S * ENVELOPE_RATE)
    hop = int(WINDOW_HOP_S * ENVELOPE_RATE)
    starts = [0] if n <= win + hop // 2 else list(range(0, n - win + 1, hop))
    curves = []
    for ws in starts:
        we = n if len(starts) == 1 else ws + win
        seg_y = y[ws:we]
        row = []
        for shift in lag_steps:
            # mouth at (t - lag): the grid index of region start is max_shift + ctx.
            a = max_shift + ctx + ws - shift
            seg_x = x_full[a:a + (we - ws)]
            ok = valid[a:a + (we - ws)]
            row.append(_pearson(seg_x[ok], seg_y[ok]) if ok.sum() >= 0.7 * (we - ws) else np.nan)
        curves.append(row)
    table = np.array(curves, dtype=np.float64)
    if not np.any(np.isfinite(table)):
        return SyncResult(SyncVerdict.INCONCLUSIVE, "mouth not tracked during the speech",
                          **base)
    counts = np.isfinite(table).sum(axis=0)
    curve = np.where(counts > 0, np.nansum(table, axis=0) / np.maximum(counts, 1), np.nan)
    base["windows"] = len(curves)
    return decide(curve, lag_steps / ENVELOPE_RATE, n / ENVELOPE_RATE, **base)


def decide(curve: np.ndarray, lags: np.ndarray, region_s: float, **base: object) -> SyncResult:
    """The verdict from a (window-averaged) correlation-vs-lag curve over ``region_s`` seconds.

    Also used for the whole interview: the curves of all its utterances, averaged with their
    lengths as weights, judged over their total length.
    """
    inside = np.abs(lags) <= SYNC_LAG_S + 1e-9
    outside = np.abs(lags) >= OFF_LAG_MIN_S - 1e-9
    c_in = np.where(inside & np.isfinite(curve), curve, -np.inf)
    c_out = np.where(outside & np.isfinite(curve), curve, -np.inf)
    i_in, i_out = int(np.argmax(c_in)), int(np.argmax(c_out))
    r_in, r_out = float(c_in[i_in]), float(c_out[i_out])
    pass_at, fail_at = thresholds(region_s)
    base.update(correlation=r_in, lag_s=float(lags[i_in]),
                off_correlation=r_out if np.isfinite(r_out) else None,
                off_lag_s=float(lags[i_out]) if np.isfinite(r_out) else None,
                pass_threshold=pass_at, fail_threshold=fail_at, region_s=region_s,
                curve=tuple(float(v) for v in curve))
    if np.isfinite(r_out) and r_out >= pass_at and r_out >= r_in + OFFSET_MARGIN:
        return SyncResult(SyncVerdict.OUT_OF_SYNC,  # type: ignore[arg-type]
                          f"speech aligns with the mouth {lags[i_out]:+.2f} s off", **base)
    if r_in >= pass_at and (not np.isfinite(r_out) or r_in >= r_out):
        return SyncResult(SyncVerdict.IN_SYNC,  # type: ignore[arg-type]
                          "the mouth moves with the speech", **base)
    if r_in <= fail_at:
        return SyncResult(SyncVerdict.OUT_OF_SYNC,  # type: ignore[arg-type]
                          "the mouth does not move with the speech", **base)
    return SyncResult(SyncVerdict.INCONCLUSIVE,  # type: ignore[arg-type]
                      "correlation between unrelated and own speech for this much speech",
                      **base)


def lag_grid() -> np.ndarray:
    """The lags (seconds) every curve is computed at."""
    steps = int(round(MAX_LAG_S * ENVELOPE_RATE))
    return np.arange(-steps, steps + 1, int(round(LAG_STEP_S * ENVELOPE_RATE))) / ENVELOPE_RATE
