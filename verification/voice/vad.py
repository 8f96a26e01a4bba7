"""Silero VAD adapter: speech probability per 32 ms chunk, and speech segments with hysteresis.

The model is stateful (an LSTM state plus the last 64 input samples as context), so each audio
stream owns a :class:`VadState`; one :class:`SileroVad` (one ONNX session) serves any number of
streams. Offline, :meth:`SileroVad.detect` runs a whole waveform and segments it the way
``silero_vad.get_speech_timestamps`` does (the conversion script checks that our segmenter gives
identical segments to the package's on real speech).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
CHUNK_SAMPLES = 512  # 32 ms
CONTEXT_SAMPLES = 64
_STATE_SHAPE = (2, 128)
# Several analyzers of one interview (voice, lip sync, expression) each run VAD on the same
# audio from the same start, so their states and inputs are identical step by step: a small
# content-addressed memo answers the repeats without running the model (identical results).
MEMO_ENTRIES = 2048


@dataclass(frozen=True)
class SegmenterConfig:
    """Hysteresis segmentation parameters (the package's defaults).

    Speech starts when a chunk's probability reaches ``threshold`` and ends after
    ``min_silence_s`` of chunks below ``neg_threshold`` (default ``threshold - 0.15``); chunks in
    between keep the current state, which stops flicker around one threshold. Segments shorter
    than ``min_speech_s`` are dropped; kept ones are widened by ``speech_pad_s`` on each side.
    """

    threshold: float = 0.5
    neg_threshold: float | None = None
    min_speech_s: float = 0.25
    min_silence_s: float = 0.1
    speech_pad_s: float = 0.03

    @property
    def exit_threshold(self) -> float:
        if self.neg_threshold is not None:
            return self.neg_threshold
        return max(self.threshold - 0.15, 0.01)


@dataclass(frozen=True)
class SpeechSegment:
    """One stretch of speech; samples are at 16 kHz from the start of the stream."""

    start_sample: int
    end_sample: int
    sample_rate: int = SAMPLE_RATE

    @property
    def start_s(self) -> float:
        return self.start_sample / self.sample_rate

    @property
    def end_s(self) -> float:
        return self.end_sample / self.sample_rate

    @property
    def duration_s(self) -> float:
        return (self.end_sample - self.start_sample) / self.sample_rate


@dataclass(frozen=True)
class ChunkProbability:
    """Speech probability of one 512-sample chunk of a stream."""

    start_sample: int
    probability: float
    latency_ms: float

    @property
    def start_s(self) -> float:
        return self.start_sample / SAMPLE_RATE


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value
class VadResult:
    """Offline VAD of a whole waveform."""

    probabilities: np.ndarray  # (n_chunks,) float32, one per 512 samples
    segments: tuple[SpeechSegment, ...]
    duration_s: float
    latency_ms: float

    @property
    def speech_s(self) -> float:
        return float(sum(s.duration_s for s in self.segments))

    @property
    def has_speech(self) -> bool:
        return bool(self.segments)


class VadState:
    """Per-stream model memory: LSTM state, 64-sample context, and not-yet-chunked samples.

    Mutable by design (it is the stream's state); not shared between streams or threads.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.state = np.zeros((_STATE_SHAPE[0], 1, _STATE_SHAPE[1]), np.float32)
        self.context = np.zeros(CONTEXT_SAMPLES, np.float32)
        self.pending = np.zeros(0, np.float32)
        self.samples_consumed = 0  # samples already turned into chunks


class SpeechSegmenter:
    """Streaming hysteresis segmenter over per-chunk probabilities (unpadded segments).

    Feed probabilities in order with :meth:`push`; a segment is returned once its end is known.
    Call :meth:`finish` at end of stream to close an open segment. Padding needs the next
    segment's start, so it is applied afterwards by :func:`pad_segments`.
    """

    def __init__(self, config: SegmenterConfig = SegmenterConfig(),
                 sample_rate: int = SAMPLE_RATE, chunk_samples: int = CHUNK_SAMPLES) -> None:
        self.config = config
        self.sample_rate = sample_rate
        self.chunk_samples = chunk_samples
        self._min_speech = sample_rate * config.min_speech_s
        self._min_silence = sample_rate * config.min_silence_s
        self._index = 0
        self._start: int | None = None  # open segment start (sample)
        self._tentative_end = 0  # first sample of the current low-probability run (0: none)

    @property
    def in_speech(self) -> bool:
        return self._start is not None

    def push(self, probability: float) -> SpeechSegment | None:
        cur = self._index * self.chunk_samples
        self._index += 1
        cfg = self.config
        if probability >= cfg.threshold:
            self._tentative_end = 0
            if self._start is None:
                self._start = cur
            return None
        if self._start is None or probability >= cfg.exit_threshold:
            return None
        if not self._tentative_end:
            self._tentative_end = cur
        if cur - self._tentative_end < self._min_silence:
            return None
        start, end = self._start, self._tentative_end
        self._start, self._tentative_end = None, 0
        if end - start > self._min_speech:
            return SpeechSegment(start, end, self.sample_rate)
        return None

    def finish(self, total_samples: int) -> SpeechSegment | None:
        """Close an open segment at ``total_samples`` (the true audio length)."""
        start, self._start, self._tentative_end = self._start, None, 0
        if start is not None and total_samples - start > self._min_speech:
            return SpeechSegment(start, total_samples, self.sample_rate)
        return None


def pad_segments(segments: Sequence[SpeechSegment], total_samples: int,
                 pad_s: float) -> tuple[SpeechSegment, ...]:
    """Widen segments by ``pad_s`` each side; a gap narrower than two pads is split in half."""
    if not segments:
        return ()
    rate = segments[0].sample_rate
    pad = rate * pad_s
    starts = [s.start_sample for s in segments]
    ends = [s.end_sample for s in segments]
    starts[0] = int(max(0, starts[0] - pad))
    for i in range(len(segments) - 1):
        gap = starts[i + 1] - ends[i]
        if gap < 2 * pad:
            ends[i] += int(gap // 2)
            starts[i + 1] = int(max(0, starts[i + 1] - gap // 2))
        else:
            ends[i] = int(min(total_samples, ends[i] + pad))
            starts[i + 1] = int(max(0, starts[i + 1] - pad))
    ends[-1] = int(min(total_samples, ends[-1] + pad))
    return tuple(SpeechSegment(s, e, rate) for s, e in zip(starts, ends, strict=True))


def segment_probabilities(probabilities: Sequence[float] | np.ndarray, total_samples: int,
                          config: SegmenterConfig = SegmenterConfig(),
                          sample_rate: int = SAMPLE_RATE) -> tuple[SpeechSegment, ...]:
    """Speech segments of a whole stream from its per-chunk probabilities."""
    segmenter = SpeechSegmenter(config, sample_rate)
    raw = [seg for p in probabilities if (seg := segmenter.push(float(p))) is not None]
    last = segmenter.finish(total_samples)
    if last is not None:
        raw.append(last)
    return pad_segments(raw, total_samples, config.speech_pad_s)


class SileroVad:
    """Silero VAD v6 (onnxruntime): one instance per process, one :class:`VadState` per stream."""

    def __init__(self, model) -> None:
        self.model = model
        extra = getattr(getattr(model, "spec", None), "extra", {}) or {}
        if int(extra.get("chunk_samples", CHUNK_SAMPLES)) != CHUNK_SAMPLES:
            raise ValueError("this adapter handles 512-sample chunks at 16 kHz only")
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)
        neg = extra.get("neg_threshold")
        self.default_config = SegmenterConfig(threshold=float(extra.get("threshold", 0.5)),
                                              neg_threshold=None if neg is None else float(neg))
        self._memo: OrderedDict[bytes, tuple[float, np.ndarray, float]] = OrderedDict()
        self._memo_lock = threading.Lock()
        self.memo_hits = 0

    @staticmethod
    def new_state() -> VadState:
        return VadState()

    def speech_probability(self, chunk: np.ndarray, state: VadState) -> ChunkProbability:
        """Probability that one 512-sample chunk (the next in ``state``'s stream) is speech."""
        chunk = np.asarray(chunk, dtype=np.float32).reshape(-1)
        if chunk.size != CHUNK_SAMPLES:
            raise ValueError(f"expected {CHUNK_SAMPLES} samples, got {chunk.size}")
        x = np.concatenate([state.context, chunk])[None]
        key = hashlib.blake2b(x.tobytes() + np.ascontiguousarray(state.state).tobytes(),
                              digest_size=16).digest()
        with self._memo_lock:
            known = self._memo.get(key)
            if known is not None:
                self._memo.move_to_end(key)
                self.memo_hits += 1
        if known is None:
            res = self.model.run({"input": x, "state": state.state, "sr": self._sr})
            known = (float(res.outputs["output"][0, 0]),
                     np.asarray(res.outputs["stateN"], dtype=np.float32), float(res.latency_ms))
            with self._memo_lock:
                self._memo[key] = known
                if len(self._memo) > MEMO_ENTRIES:
                    self._memo.popitem(last=False)
        probability, state_out, latency_ms = known
        state.state = state_out.copy()
        state.context = x[0, -CONTEXT_SAMPLES:].copy()
        start = state.samples_consumed
        state.samples_consumed += CHUNK_SAMPLES
        return ChunkProbability(start, probability, latency_ms)

    def speech_probabilities_batch(self, chunks: np.ndarray,
                                   states: Sequence[VadState]) -> tuple[ChunkProbability, ...]:
        """One step of many streams in one ONNX call (``chunks``: (n_streams, 512))."""
        chunks = np.asarray(chunks, dtype=np.float32)
        if chunks.ndim != 2 or chunks.shape != (len(states), CHUNK_SAMPLES):
            raise ValueError(f"expected ({len(states)}, {CHUNK_SAMPLES}) chunks, "
                             f"got {chunks.shape}")
        x = np.concatenate([np.stack([s.context for s in states]), chunks], axis=1)
        state_in = np.concatenate([s.state for s in states], axis=1)
        res = self.model.run({"input": x, "state": state_in, "sr": self._sr})
        probs = np.asarray(res.outputs["output"])[:, 0]
        state_out = np.asarray(res.outputs["stateN"], dtype=np.float32)
        out = []
        for i, st in enumerate(states):
            st.state = state_out[:, i : i + 1].copy()
            st.context = x[i, -CONTEXT_SAMPLES:].copy()
            out.append(ChunkProbability(st.samples_consumed, float(probs[i]),
                                        float(res.latency_ms)))
            st.samples_consumed += CHUNK_SAMPLES
        return tuple(out)

    def process(self, samples: np.ndarray, state: VadState) -> tuple[ChunkProbability, ...]:
        """Feed any number of new samples of a stream; returns one result per completed chunk."""
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        buffered = np.concatenate([state.pending, samples])
        n_full = buffered.size // CHUNK_SAMPLES
        results = tuple(self.speech_probability(buffered[i * CHUNK_SAMPLES:(i + 1) * CHUNK_SAMPLES],
                                                state) for i in range(n_full))
        state.pending = buffered[n_full * CHUNK_SAMPLES:].copy()
        return results

    def detect(self, wav: np.ndarray, config: SegmenterConfig | None = None) -> VadResult:
        """Whole-waveform VAD from a fresh state (last partial chunk zero-padded).

        ``config`` defaults to the manifest's thresholds (the package's defaults).
        """
        config = config or self.default_config
        wav = np.asarray(wav, dtype=np.float32).reshape(-1)
        if wav.size == 0:
            return VadResult(np.zeros(0, np.float32), (), 0.0, 0.0)
        padded = np.pad(wav, (0, (-wav.size) % CHUNK_SAMPLES))
        state = self.new_state()
        steps = self.process(padded, state)
        probs = np.array([s.probability for s in steps], dtype=np.float32)
        segments = segment_probabilities(probs, wav.size, config)
        latency = float(sum(s.latency_ms for s in steps))
        logger.debug("VAD: %d chunks, %d segments, %.1f ms", probs.size, len(segments), latency)
        return VadResult(probs, segments, wav.size / SAMPLE_RATE, latency)
