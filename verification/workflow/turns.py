"""Speech turns for the interview flow: when the applicant starts and stops speaking, live.

Why a stream of its own: the speech-presence analyzer reports segments as *evidence* for the
verdict; the interview engine needs the same signal as *events*, now — an answer has begun
(so silence timers must wait), an answer has ended (so the next prompt can come). This stream
runs the Silero VAD (through the registry, in the inference executor like every analyzer) on
short blocks and hands onsets and closed segments to a callback; it produces no evidence.

A pause of ``end_silence_s`` ends a segment (longer than the VAD's default 0.1 s, so one answer
with breaths stays one segment); an onset is reported once speech has lasted ``min_speech_s``,
so a cough never leaves the engine waiting for the end of an answer that never was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from verification.pipeline.analyzer import Analyzer, AnalyzerStream, SessionContext
from verification.pipeline.ringbuffer import AudioRead
from verification.runtime import InferenceExecutor, ModelRegistry
from verification.types import Evidence
from verification.voice.vad import SegmenterConfig, SileroVad, SpeechSegmenter

log = logging.getLogger(__name__)

TURN_SEGMENTER = SegmenterConfig(threshold=0.5, min_speech_s=0.25, min_silence_s=0.35)

# (kind, start, end): kind "onset" (end None) or "segment"; media seconds.
TurnSink = Callable[[str, float, float | None], None]


class SpeechTurnStream(AnalyzerStream):
    wants_audio = True
    audio_block_seconds = 0.256  # 8 VAD chunks: a turn is seen within ~0.3 s

    def __init__(self, vad: SileroVad, executor: InferenceExecutor, sink: TurnSink,
                 config: SegmenterConfig = TURN_SEGMENTER) -> None:
        super().__init__("speech_turns", executor)
        self._vad = vad
        self._state = vad.new_state()
        self._segmenter = SpeechSegmenter(config)
        self._min_speech_samples = int(config.min_speech_s * 16_000)
        self._sink = sink
        self._origin: float | None = None
        self._samples = 0
        self._onset_sent = False

    def process_audio(self, audio: AudioRead) -> Iterable[Evidence]:
        if self._origin is None:
            self._origin = audio.start
        for step in self._vad.process(audio.samples, self._state):
            segment = self._segmenter.push(step.probability)
            if segment is not None:
                self._onset_sent = False
                self._report("segment", segment.start_s, segment.end_s)
            elif self._segmenter.in_speech and not self._onset_sent:
                start = self._segmenter._start or 0  # noqa: SLF001 - the open segment's start
                if step.start_sample - start >= self._min_speech_samples:
                    self._onset_sent = True
                    self._report("onset", start / 16_000, None)
            elif not self._segmenter.in_speech:
                self._onset_sent = False
        self._samples += len(audio.samples)
        return ()

    def summarize(self) -> Iterable[Evidence]:
        last = self._segmenter.finish(self._samples)
        if last is not None:
            self._report("segment", last.start_s, last.end_s)
        return ()

    def _report(self, kind: str, start: float, end: float | None) -> None:
        origin = self._origin or 0.0
        try:
            self._sink(kind, origin + start, None if end is None else origin + end)
        except Exception:
            log.exception("speech-turn sink failed")


class SpeechTurns(Analyzer):
    """Opens a turn stream for interviews that registered a sink (others get none)."""

    name = "speech_turns"
    checks = ()

    def __init__(self, registry: ModelRegistry, sinks: Callable[[str], TurnSink | None]) -> None:
        self._vad: SileroVad = registry.adapter("vad")
        self._sinks = sinks

    def open_stream(self, context: SessionContext, executor: InferenceExecutor) -> AnalyzerStream:
        sink = self._sinks(context.session_id) or (lambda *_: None)
        return SpeechTurnStream(self._vad, executor, sink)
