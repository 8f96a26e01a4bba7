"""Speech presence: Silero VAD over the interview audio, as speech segments with media times.

Lost audio (gaps in the ring buffer) is reported as media-quality evidence, never as silence:
"the applicant said nothing" and "we received nothing" lead to different reviewer actions.
"""

from __future__ import annotations

from collections.abc import Iterable

from verification.pipeline.analyzer import Analyzer, AnalyzerStream, SessionContext
from verification.pipeline.ringbuffer import AudioRead
from verification.runtime import InferenceExecutor, ModelRegistry
from verification.types import Check, Evidence, Outcome, TimeWindow
from verification.voice.vad import SileroVad, SpeechSegment, SpeechSegmenter

MIN_SPEECH_SECONDS = 1.0


class SpeechPresenceStream(AnalyzerStream):
    wants_audio = True

    def __init__(self, vad: SileroVad, executor: InferenceExecutor) -> None:
        super().__init__("speech_presence", executor)
        self._vad = vad
        self._state = vad.new_state()
        self._segmenter = SpeechSegmenter()
        self._origin: float | None = None  # media time of the stream's first sample
        self._samples = 0
        self._speech_s = 0.0
        self._latency_ms = 0.0
        self._seen_gaps: set[tuple[float, float]] = set()

    def _segment_evidence(self, segment: SpeechSegment) -> Evidence:
        origin = self._origin or 0.0
        self._speech_s += segment.duration_s
        return Evidence(Check.SPEECH_PRESENCE, Outcome.SUPPORTS,
                        TimeWindow(origin + segment.start_s, origin + segment.end_s),
                        f"speech for {segment.duration_s:.1f} s", model="vad",
                        provider=self._vad.model.provider, code="speech_segment")

    def process_audio(self, audio: AudioRead) -> Iterable[Evidence]:
        if self._origin is None:
            self._origin = audio.start
        out = []
        for gap in audio.gaps:
            key = (gap.window.start, gap.window.end)
            if key not in self._seen_gaps:
                self._seen_gaps.add(key)
                out.append(Evidence(Check.MEDIA_QUALITY, Outcome.INCONCLUSIVE, gap.window,
                                    f"audio {gap.kind}: {gap.window.end - gap.window.start:.2f} s",
                                    code=f"audio_{gap.kind}"))
        for step in self._vad.process(audio.samples, self._state):
            self._latency_ms += step.latency_ms
            segment = self._segmenter.push(step.probability)
            if segment is not None:
                out.append(self._segment_evidence(segment))
        self._samples += len(audio.samples)
        return out

    def summarize(self) -> Iterable[Evidence]:
        out = []
        last = self._segmenter.finish(self._samples)
        if last is not None:
            out.append(self._segment_evidence(last))
        if self._origin is None:
            out.append(Evidence(Check.SPEECH_PRESENCE, Outcome.NOT_CHECKED, TimeWindow(0.0, 0.0),
                                "no audio was received", code="no_audio"))
            return out
        window = TimeWindow(self._origin, self._origin + self._samples / 16_000)
        enough = self._speech_s >= MIN_SPEECH_SECONDS
        out.append(Evidence(Check.SPEECH_PRESENCE,
                            Outcome.SUPPORTS if enough else Outcome.CONTRADICTS, window,
                            f"{self._speech_s:.1f} s of speech in {window.end - window.start:.1f} s",
                            score=self._speech_s, model="vad", provider=self._vad.model.provider,
                            latency_ms=self._latency_ms,
                            code="speech_summary" if enough else "no_speech"))
        return out


class SpeechPresenceAnalyzer(Analyzer):
    name = "speech_presence"
    checks = (Check.SPEECH_PRESENCE,)

    def __init__(self, registry: ModelRegistry) -> None:
        self._vad: SileroVad = registry.adapter("vad")

    def open_stream(self, context: SessionContext, executor: InferenceExecutor) -> AnalyzerStream:
        return SpeechPresenceStream(self._vad, executor)
