"""Lip-speech sync on every spoken answer, and the spoken-digit challenge, as a face cue.

Why a face cue (:mod:`verification.face.cues`) and not an analyzer of its own: the mouth signal
comes from the face mesh, the most expensive model of the face stage; riding on the face
stream's per-frame observations costs nothing extra. The cue gets every analysed frame's
observation (mouth opening from its landmarks, :mod:`.mouth`) and the audio (its own Silero VAD
state and the speech envelope, :mod:`.envelope`). Speech segments closer than
0.6 s are joined into *utterances*; each utterance is judged by :func:`.lipsync.assess_sync`
once the video has caught up with it (audio and video arrive on separate workers). Digit prompts
from the session script (:mod:`.digits`) are judged when their reading window has passed: speech
inside the window, a number of voiced bursts that fits the digits, and lip-speech sync on the
reading. Memory is bounded: only the last ``HISTORY_S`` seconds of mouth and envelope are kept,
and utterances longer than ``MAX_UTTERANCE_S`` are judged in pieces.

Evidence (check ``lip_sync``): ``lip_sync_ok`` / ``lip_sync_segment_mismatch`` /
``lip_sync_inconclusive`` per utterance; ``digit_challenge_passed``, ``digits_not_spoken``,
``digit_count_mismatch``, ``digit_challenge_inconclusive`` per prompt; and one session summary:
all utterances tested together (their correlation curves averaged - an interview's answers add
up to far more evidence than one 2 s sentence) give ``lip_sync_session`` (supports) or
``lip_sync_mismatch`` (a hard gate: the speech as a whole, a still mouth through most of it, or
the digit reading does not come from the mouth on camera), else ``lip_sync_summary``.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from verification.face.observation import FaceObservation
from verification.pipeline.analyzer import SessionContext
from verification.pipeline.live_verdicts import DIGITS, LiveVerdict, LiveVerdictBox
from verification.pipeline.ringbuffer import AudioRead
from verification.runtime import ModelRegistry
from verification.types import AUDIO_SAMPLE_RATE, Check, Evidence, Outcome, TimeWindow, VideoFrame
from verification.voice.digits import AnswerPrompt, DigitPrompt, answer_prompts, digit_prompts
from verification.voice.envelope import ENVELOPE_RATE, EnvelopeTracker, count_bursts
from verification.voice.lipsync import (
    MARGIN_S,
    MAX_LAG_S,
    SyncResult,
    SyncVerdict,
    assess_sync,
    decide,
    lag_grid,
)
from verification.voice.mouth import mouth_opening
from verification.voice.vad import SileroVad, SpeechSegmenter

log = logging.getLogger(__name__)

UTTERANCE_JOIN_S = 0.6
MAX_UTTERANCE_S = 30.0
HISTORY_S = 120.0
MAX_RESULTS = 5000  # judged utterances kept for the interview summary (hours of speech)
MIN_UTTERANCE_SPEECH_S = 1.0  # shorter utterances ("yes") are not judged on their own
MISMATCH_SHARE = 0.5  # of the decisive speech, for the session-level hard evidence
DIGIT_MIN_SPEECH_PER_DIGIT_S = 0.12
DIGIT_CONTEXT_S = 2.0  # speech this close outside the window counts as spill-over
DIGIT_MAX_SPILL = 0.35  # share of the reading heard outside its window
# The mouth signal is band-passed up to 6 Hz: 12.5 analysed frames a second carry it (the
# GRID evaluation gives the same verdicts at 12.5 and 25 fps); 5 fps does not.
DEFAULT_VIDEO_FPS = 12.5
# How a digit reading's evidence code answers the live script: read as asked, not read as asked
# (a new reading is asked for), or undecided (left to the recording).
_DIGITS_PASSED = frozenset({"digit_challenge_passed"})
_DIGITS_FAILED = frozenset({"digits_not_spoken", "digit_count_mismatch", "lip_sync_mismatch"})


def burst_range(n_digits: int) -> tuple[int, int]:
    """Voiced bursts accepted for ``n_digits`` digits: at least one syllable per digit minus the
    merges of fluent speech (about one in six, see ``count_bursts``), at most two syllables a
    digit (English "seven", "zero") plus a filler ("ok")."""
    return max(2, n_digits - 2), 2 * n_digits + 1


@dataclass
class _Utterance:
    start: float
    end: float
    speech_s: float


class LipSyncCue:
    """Per-interview lip-sync state; called by the face stream, one call at a time."""

    name = "lip_sync"
    wants_audio = True

    def __init__(self, vad: SileroVad, context: SessionContext,
                 history_fps: float = 30.0) -> None:
        self._vad = vad
        self._vad_state = vad.new_state()
        self._segmenter = SpeechSegmenter(vad.default_config)
        self._envelope = EnvelopeTracker()
        self._mouth: deque[tuple[float, float]] = deque(maxlen=int(HISTORY_S * history_fps) + 1)
        self._env = np.zeros(0, dtype=np.float32)
        self._env_t0 = 0.0
        self._origin: float | None = None
        self._samples = 0
        self._segments: deque[tuple[float, float]] = deque(maxlen=2000)
        self._open: _Utterance | None = None
        self._pending: list[_Utterance] = []
        self._prompts: list[DigitPrompt] = list(digit_prompts(context.script))
        self._answers: tuple[AnswerPrompt, ...] = answer_prompts(context.script)
        # A live interview's prompt list grows as prompts are shown (workflow driver).
        steps = context.script.get("steps")
        self._live_steps: list | None = steps if isinstance(steps, list) else None
        self._live_seen = len(steps) if isinstance(steps, list) else 0
        self._known_digits = {(p.t, p.digits) for p in self._prompts}
        # Live interview: each reading issued from now on is reported to the script as judged.
        self._box: LiveVerdictBox | None = context.live_verdicts if self._live_steps is not None \
            else None
        self._report: set[tuple[float, str]] = set()
        self._results: deque[tuple[_Utterance, SyncResult]] = deque(maxlen=MAX_RESULTS)
        self._digit_results: list[tuple[DigitPrompt, SyncResult | None, str]] = []
        self._last_video = float("-inf")
        self._frames = 0
        self._face_frames = 0
        self._vad_ms = 0.0

    # -- face-cue hooks --------------------------------------------------------------------
    def observe(self, observation: FaceObservation, frame: VideoFrame) -> Iterable[Evidence]:
        landmarks = observation.landmarks if observation.face else None
        opening = mouth_opening(landmarks) if landmarks is not None else float("nan")
        self._frames += 1
        self._face_frames += int(np.isfinite(opening))
        self._mouth.append((observation.pts, opening))
        self._last_video = max(self._last_video, observation.pts)
        return self._judge_ready(final=False)

    def observe_audio(self, audio: AudioRead) -> Iterable[Evidence]:
        if self._origin is None:
            self._origin = audio.start
            self._env_t0 = audio.start
        self._append_envelope(self._envelope.push(audio.samples))
        for step in self._vad.process(audio.samples, self._vad_state):
            self._vad_ms += step.latency_ms
            segment = self._segmenter.push(step.probability)
            if segment is not None:
                self._add_segment(self._origin + segment.start_s, self._origin + segment.end_s)
        self._samples += len(audio.samples)
        self._close_utterance(self._origin + self._samples / AUDIO_SAMPLE_RATE)
        return self._judge_ready(final=False)

    def summarize(self) -> Iterable[Evidence]:
        if self._origin is not None:
            last = self._segmenter.finish(self._samples)
            if last is not None:
                self._add_segment(self._origin + last.start_s, self._origin + last.end_s)
        if self._open is not None:
            self._pending.append(self._open)
            self._open = None
        if self._frames == 0:  # no video at all: nothing can be judged against a mouth
            self._pending, self._prompts = [], []
        out = self._judge_ready(final=True)
        out.extend(self._summary())
        return out

    # -- bookkeeping -----------------------------------------------------------------------
    def _append_envelope(self, values: np.ndarray) -> None:
        self._env = np.concatenate([self._env, values])
        keep = int(HISTORY_S * ENVELOPE_RATE)
        if len(self._env) > 2 * keep:
            drop = len(self._env) - keep
            self._env = self._env[drop:]
            self._env_t0 += drop / ENVELOPE_RATE

    def _add_segment(self, start: float, end: float) -> None:
        self._segments.append((start, end))
        u = self._open
        if u is not None and start - u.end <= UTTERANCE_JOIN_S:
            u.end = end
            u.speech_s += end - start
            return
        if u is not None:
            self._pending.append(u)
        self._open = _Utterance(start, end, end - start)

    def _close_utterance(self, now: float) -> None:
        """Close the open utterance once a pause longer than the join gap follows it (so it is
        judged without waiting for the next answer), or once it grows past the length limit."""
        u = self._open
        if u is None:
            return
        paused = not self._segmenter.in_speech and now - u.end > UTTERANCE_JOIN_S + 0.1
        if paused or u.end - u.start >= MAX_UTTERANCE_S:
            self._pending.append(u)
            self._open = None

    def _video_ready(self, t: float) -> bool:
        return self._last_video >= t + MARGIN_S + MAX_LAG_S

    def _audio_ready(self, t: float) -> bool:
        if self._origin is None:
            return False
        return self._origin + self._samples / AUDIO_SAMPLE_RATE >= t + MARGIN_S + 1.0

    def _mouth_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._mouth:
            return np.zeros(0), np.zeros(0)
        data = np.array(self._mouth, dtype=np.float64)
        return data[:, 0], data[:, 1]

    def _sync(self, start: float, end: float, speech_s: float) -> SyncResult:
        times, values = self._mouth_arrays()
        return assess_sync(times, values, self._env, self._env_t0, start, end, speech_s)

    def _sync_live_prompts(self) -> None:
        steps = self._live_steps
        if steps is None or len(steps) == self._live_seen:
            return
        self._live_seen = len(steps)
        try:
            script = {"steps": list(steps)}
            fresh, self._answers = digit_prompts(script), answer_prompts(script)
        except Exception:  # a malformed live step must not stop the voice analysis
            log.exception("live prompt script unreadable")
            return
        for prompt in fresh:
            if (prompt.t, prompt.digits) not in self._known_digits:
                self._known_digits.add((prompt.t, prompt.digits))
                self._prompts.append(prompt)
                if self._box is not None:
                    self._report.add((prompt.t, prompt.digits))

    def _judge_ready(self, final: bool) -> list[Evidence]:
        self._sync_live_prompts()
        out: list[Evidence] = []
        still: list[_Utterance] = []
        for u in self._pending:
            if final or (self._video_ready(u.end) and self._audio_ready(u.end)):
                out.append(self._utterance_evidence(u))
            else:
                still.append(u)
        self._pending = still
        waiting: list[DigitPrompt] = []
        for prompt in self._prompts:
            if final or (self._video_ready(prompt.end) and self._audio_ready(prompt.end)):
                out.append(self._digit_evidence(prompt))
            else:
                waiting.append(prompt)
        self._prompts = waiting
        return out

    # -- evidence --------------------------------------------------------------------------
    def _label(self, start: float, end: float) -> str | None:
        """The question whose answer window holds this speech (for the reviewer timeline)."""
        label = None
        for answer in self._answers:
            if answer.t <= start + 0.5 and (answer.end is None or start < answer.end):
                label = answer.id or f"question@{answer.t:g}"
        return label

    def _common(self) -> dict[str, object]:
        return {"model": "face_mesh+vad", "provider": self._vad.model.provider}

    def _utterance_evidence(self, u: _Utterance) -> Evidence:
        result = self._sync(u.start, u.end, u.speech_s)
        window = TimeWindow(u.start, u.end)
        details = result.to_details()
        label = self._label(u.start, u.end)
        if label:
            details["answer"] = label
        if u.speech_s < MIN_UTTERANCE_SPEECH_S and result.verdict is not SyncVerdict.IN_SYNC:
            result = SyncResult(SyncVerdict.INCONCLUSIVE, "utterance too short to judge",
                                u.start, u.end, u.speech_s)
            details["verdict"] = result.verdict.value
        self._results.append((u, result))
        if result.verdict is SyncVerdict.IN_SYNC:
            return Evidence(Check.LIP_SYNC, Outcome.SUPPORTS, window,
                            f"lips follow the speech (r={result.correlation:.2f}, "
                            f"lag {result.lag_s:+.2f} s)", score=result.correlation,
                            code="lip_sync_ok", details=details, **self._common())
        if result.verdict in (SyncVerdict.OUT_OF_SYNC, SyncVerdict.NO_MOUTH_MOTION):
            return Evidence(Check.LIP_SYNC, Outcome.CONTRADICTS, window,
                            f"speech {u.start:.1f}-{u.end:.1f} s: {result.reason}",
                            score=result.correlation, code="lip_sync_segment_mismatch",
                            details=details, **self._common())
        return Evidence(Check.LIP_SYNC, Outcome.INCONCLUSIVE, window,
                        f"speech {u.start:.1f}-{u.end:.1f} s: {result.reason}",
                        score=result.correlation, code="lip_sync_inconclusive", details=details,
                        **self._common())

    def _digit_evidence(self, prompt: DigitPrompt) -> Evidence:
        evidence = self._judge_digits(prompt)
        key = (prompt.t, prompt.digits)
        if self._box is not None and key in self._report:
            self._report.discard(key)
            passed = True if evidence.code in _DIGITS_PASSED else \
                False if evidence.code in _DIGITS_FAILED else None
            self._box.put(LiveVerdict(DIGITS, prompt.t, passed, evidence.code or "",
                                      max(self._last_video, prompt.end), digits=prompt.digits,
                                      details={"summary": evidence.summary}))
        return evidence

    def _judge_digits(self, prompt: DigitPrompt) -> Evidence:
        window = TimeWindow(prompt.t, prompt.end)
        inside = [(max(a, prompt.t), min(b, prompt.end)) for a, b in self._segments
                  if b > prompt.t and a < prompt.end]
        near = [(max(a, prompt.t - DIGIT_CONTEXT_S), min(b, prompt.end + DIGIT_CONTEXT_S))
                for a, b in self._segments
                if b > prompt.t - DIGIT_CONTEXT_S and a < prompt.end + DIGIT_CONTEXT_S]
        speech_in = sum(b - a for a, b in inside)
        speech_near = sum(b - a for a, b in near)
        n = len(prompt.digits)
        details: dict[str, object] = {"digits": n, "speech_in_window_s": round(speech_in, 2),
                                      "speech_near_window_s": round(speech_near, 2)}
        if speech_in < DIGIT_MIN_SPEECH_PER_DIGIT_S * n:
            self._digit_results.append((prompt, None, "digits_not_spoken"))
            return Evidence(Check.LIP_SYNC, Outcome.CONTRADICTS, window,
                            f"no reading of the {n} digits shown at {prompt.t:.1f} s "
                            f"({speech_in:.1f} s of speech in the window)",
                            code="digits_not_spoken", details=details)
        start, end = inside[0][0], inside[-1][1]
        lo = max(0, int(round((start - self._env_t0) * ENVELOPE_RATE)))
        hi = max(lo, int(round((end - self._env_t0) * ENVELOPE_RATE)))
        bursts = count_bursts(self._env[lo:hi], self._env_t0 + lo / ENVELOPE_RATE)
        low, high = burst_range(n)
        spill = (speech_near - speech_in) / speech_near if speech_near > 0 else 0.0
        sync = self._sync(start, end, speech_in)
        details.update(bursts=bursts.count, bursts_expected=[low, high], spill=round(spill, 2),
                       sync=sync.to_details())
        if sync.verdict in (SyncVerdict.OUT_OF_SYNC, SyncVerdict.NO_MOUTH_MOTION):
            code, outcome = "lip_sync_mismatch", Outcome.CONTRADICTS
            text = f"the digits were not read by the face on camera: {sync.reason}"
        elif not low <= bursts.count <= high:
            code, outcome = "digit_count_mismatch", Outcome.CONTRADICTS
            text = f"{bursts.count} voiced bursts for {n} digits (expected {low}-{high})"
        elif spill > DIGIT_MAX_SPILL:
            code, outcome = "digits_not_spoken", Outcome.CONTRADICTS
            text = f"{spill:.0%} of the reading falls outside the {prompt.window_s:.1f} s window"
        elif sync.verdict is SyncVerdict.IN_SYNC:
            code, outcome = "digit_challenge_passed", Outcome.SUPPORTS
            text = (f"{n} digits read in the window, {bursts.count} voiced bursts, lips in sync "
                    f"(r={sync.correlation:.2f})")
        else:
            code, outcome = "digit_challenge_inconclusive", Outcome.INCONCLUSIVE
            text = f"digits read in the window, lip sync undecided: {sync.reason}"
        self._digit_results.append((prompt, sync, code))
        return Evidence(Check.LIP_SYNC, outcome, window, text, score=sync.correlation, code=code,
                        details=details, **self._common())

    def _session_sync(self) -> SyncResult | None:
        """All judged utterances as one test: their correlation curves averaged (weighted by
        length) and judged over their total length - an interview's answers add up to far more
        evidence than any one of them."""
        usable = [(u, r) for u, r in self._results if r.curve]
        if not usable:
            return None
        weights = np.array([r.region_s for _, r in usable])
        curves = np.array([r.curve for _, r in usable], dtype=np.float64)
        valid = np.isfinite(curves)
        total = (valid * weights[:, None]).sum(axis=0)
        mean = np.where(valid, curves, 0.0).T @ weights / np.maximum(total, 1e-9)
        mean[total == 0] = np.nan
        return decide(mean, lag_grid(), float(weights.sum()), start=usable[0][0].start,
                      end=usable[-1][0].end, speech_s=sum(u.speech_s for u, _ in usable),
                      face_coverage=float(np.mean([r.face_coverage for _, r in usable])),
                      windows=sum(r.windows for _, r in usable))

    def _summary(self) -> list[Evidence]:
        common = self._common()
        common["latency_ms"] = self._vad_ms
        still = [(u, r) for u, r in self._results if r.verdict is SyncVerdict.NO_MOUTH_MOTION]
        judged = [(u, r) for u, r in self._results if r.curve or r.verdict is
                  SyncVerdict.NO_MOUTH_MOTION]
        bad_digits = [p for p, _, code in self._digit_results if code == "lip_sync_mismatch"]
        judged_s = sum(u.speech_s for u, _ in judged)
        still_s = sum(u.speech_s for u, _ in still)
        session = self._session_sync()
        details: dict[str, object] = {
            "utterances": len(self._results), "judged_speech_s": round(judged_s, 2),
            "still_mouth_speech_s": round(still_s, 2), "frames": self._frames,
            "face_frames": self._face_frames, "digit_prompts": len(self._digit_results),
            "session": None if session is None else session.to_details()}
        if self._origin is None or self._frames == 0:
            what = "no audio" if self._origin is None else "no video frames"
            return [Evidence(Check.LIP_SYNC, Outcome.NOT_CHECKED, TimeWindow(0.0, 0.0),
                             f"lip sync not checked: {what}", code="lip_sync_not_checked",
                             details=details, **common)]
        span = TimeWindow(self._origin, self._origin + self._samples / AUDIO_SAMPLE_RATE)
        reasons, windows = [], []
        if bad_digits:
            reasons.append("the digit reading")
            windows += [TimeWindow(p.t, p.end) for p in bad_digits]
        if judged_s > 0 and still_s >= MISMATCH_SHARE * judged_s \
                and still_s >= MIN_UTTERANCE_SPEECH_S:
            reasons.append(f"a still mouth through {still_s:.1f} s of {judged_s:.1f} s of speech")
            windows += [TimeWindow(u.start, u.end) for u, _ in still]
        if session is not None and session.verdict is SyncVerdict.OUT_OF_SYNC:
            reasons.append(f"the interview's speech as a whole: {session.reason}")
            windows.append(TimeWindow(session.start, session.end))
        if reasons:
            details["mismatched"] = [w.to_json() for w in windows]
            return [Evidence(Check.LIP_SYNC, Outcome.CONTRADICTS,
                             TimeWindow(min(w.start for w in windows), max(w.end for w in windows)),
                             f"speech not produced by the face on camera ({'; '.join(reasons)})",
                             score=None if session is None else session.correlation,
                             code="lip_sync_mismatch", details=details, **common)]
        if session is not None and session.verdict is SyncVerdict.IN_SYNC:
            return [Evidence(Check.LIP_SYNC, Outcome.SUPPORTS,
                             TimeWindow(session.start, session.end),
                             f"lips follow the speech over the interview ({session.speech_s:.1f} s"
                             f" of speech, r={session.correlation:.2f}, lag "
                             f"{session.lag_s:+.2f} s)", score=session.correlation,
                             code="lip_sync_session", details=details, **common)]
        if not self._results and not self._digit_results:
            return [Evidence(Check.LIP_SYNC, Outcome.INCONCLUSIVE, span,
                             "no speech to check lip sync on", code="lip_sync_no_speech",
                             details=details, **common)]
        text = "no face tracked while speaking" if session is None else session.reason
        return [Evidence(Check.LIP_SYNC, Outcome.INCONCLUSIVE, span,
                         f"lip sync over the interview undecided: {text}",
                         score=None if session is None else session.correlation,
                         code="lip_sync_summary", details=details, **common)]


class LipSyncCueFactory:
    """Holds the shared VAD model; the face analyzer calls it once per interview."""

    #: Offline runs decode at least this many frames per second (see DEFAULT_VIDEO_FPS).
    min_video_fps = DEFAULT_VIDEO_FPS
    checks = (Check.LIP_SYNC,)

    def __init__(self, registry: ModelRegistry) -> None:
        self.vad: SileroVad = registry.adapter("vad")

    def __call__(self, context: SessionContext) -> LipSyncCue:
        return LipSyncCue(self.vad, context)
