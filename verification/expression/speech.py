"""When the applicant is speaking: voice activity over the interview's audio, for the spotter.

Why: speech moves the lips, the lip corners and the nostrils many times a second; none of that
is a micro-expression. The spotter therefore needs the speech segments (Silero VAD, the voice
stage's model, run here on the same audio blocks the face stage receives) and the stretches
where it cannot know (no audio, lost packets). There, a mouth that opens and closes like
articulation (:func:`articulation_windows`) is treated as speech too, the conservative choice
for a cue that must not read talking as an expression.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from verification.pipeline.ringbuffer import AudioRead
from verification.types import AUDIO_SAMPLE_RATE
from verification.voice.vad import SileroVad, SpeechSegmenter

Window = tuple[float, float]
_MAX_SEGMENTS = 20_000


def _merge(windows: Sequence[Window], join: float = 0.0) -> list[Window]:
    out: list[Window] = []
    for start, end in sorted(windows):
        if out and start <= out[-1][1] + join:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


class SpeechTracker:
    """Streaming VAD over :class:`AudioRead` blocks; media-time speech segments and coverage."""

    def __init__(self, vad: SileroVad) -> None:
        self._vad = vad
        self._config = vad.default_config
        self._state = vad.new_state()
        self._segmenter = SpeechSegmenter(self._config)
        self._origin: float | None = None  # media time of the VAD stream's sample 0
        self._expected: float | None = None  # media time of the next sample
        self._raw: list[Window] = []
        self._covered: list[Window] = []
        self._lost: list[Window] = []
        self._result: tuple[list[Window], list[Window]] | None = None
        self.latency_ms = 0.0

    def _restart(self, at: float) -> None:
        self._close()
        self._state = self._vad.new_state()
        self._segmenter = SpeechSegmenter(self._config)
        self._origin = at

    def _close(self) -> None:
        if self._origin is None or self._expected is None:
            return
        total = int(round((self._expected - self._origin) * AUDIO_SAMPLE_RATE))
        last = self._segmenter.finish(total)
        if last is not None:
            self._add(last.start_s, last.end_s)

    def _add(self, start: float, end: float) -> None:
        if self._origin is not None and len(self._raw) < _MAX_SEGMENTS:
            self._raw.append((self._origin + start, self._origin + end))

    @property
    def heard(self) -> bool:
        """Whether any audio arrived."""
        return bool(self._covered)

    def observe(self, audio: AudioRead) -> None:
        samples = np.asarray(audio.samples, dtype=np.float32)
        if samples.size == 0:
            return
        if self._result is not None:  # audio after finish(): start a new stretch
            self._result = None
            self._expected = None
        if self._expected is None or abs(audio.start - self._expected) > 0.05:
            self._restart(audio.start)
        for gap in audio.gaps:
            self._lost.append((gap.window.start, gap.window.end))
        results = self._vad.process(samples, self._state)
        for step in results:
            self.latency_ms += step.latency_ms
            segment = self._segmenter.push(step.probability)
            if segment is not None:
                self._add(segment.start_s, segment.end_s)
        self._expected = audio.start + samples.size / AUDIO_SAMPLE_RATE
        self._covered = _merge([*self._covered, (audio.start, self._expected)], join=0.05)

    def finish(self) -> tuple[list[Window], list[Window]]:
        """``(speech segments, stretches with audio)`` in media seconds, as of now."""
        if self._result is None:
            self._close()
            self._origin = None
            pad = self._config.speech_pad_s
            speech = _merge([(max(0.0, s - pad), e + pad) for s, e in self._raw])
            covered = _subtract(self._covered, _merge(self._lost))
            self._result = (speech, covered)
        return self._result


def _subtract(windows: Sequence[Window], holes: Sequence[Window]) -> list[Window]:
    out: list[Window] = []
    for start, end in windows:
        pieces = [(start, end)]
        for h0, h1 in holes:
            pieces = [p for a, b in pieces for p in
                      ((a, min(b, h0)), (max(a, h1), b)) if p[1] - p[0] > 1e-6]
        out.extend(pieces)
    return out


def uncovered(start: float, end: float, covered: Sequence[Window]) -> list[Window]:
    """The parts of ``[start, end]`` not inside any covered window."""
    return _subtract([(start, end)], covered)


def articulation_windows(times: np.ndarray, mouth_opening: np.ndarray, span_s: float = 1.0,
                         min_std: float = 0.02) -> list[Window]:
    """Stretches where the inner-lip gap varies like speech (std over ``span_s`` >= ``min_std``
    inter-ocular distances; a closed mouth at rest varies < 0.005, talking 0.03-0.1)."""
    times = np.asarray(times, dtype=np.float64)
    values = np.asarray(mouth_opening, dtype=np.float64)
    ok = np.isfinite(values)
    times, values = times[ok], values[ok]
    out: list[Window] = []
    half = span_s / 2.0
    for t in times:
        sel = (times >= t - half) & (times <= t + half)
        if sel.sum() >= 3 and float(values[sel].std()) >= min_std:
            out.append((t - half, t + half))
    return _merge(out)
