"""The voice stage of a session: VAD -> speaker windows -> voiceprint, continuity, second voice,
synthetic-speech cue and audio quality.

One :class:`VoiceAnalyzer` per process holds the shared models; each interview opens a
:class:`VoiceStream` that owns the per-interview state (VAD memory, the current speech window,
the window embeddings, quality histograms). Everything runs in the inference executor on 0.5 s
blocks of 16 kHz audio from the ring buffer; lost audio is reported, never treated as silence,
and no speaker window spans a hole.

Evidence it produces:

* ``speech_presence``: ``speech_segment`` per segment (media times), ``speech_summary`` or
  ``no_speech`` at the end;
* ``media_quality``: ``audio_lost`` / ``audio_overrun`` per gap, and one audio quality summary
  (speech level, SNR, clipping; flags ``audio_too_quiet``, ``audio_noisy``, ``audio_clipping``);
* ``voiceprint``: against a supplied voiceprint (a returning applicant) every ~10 s of speech
  (``voiceprint_match`` / ``voiceprint_mismatch``) and for the whole interview; continuity
  (``voice_continuity``), ``second_voice`` (hard), ``voice_changed``, ``possible_second_voice``;
  the enrolled session voiceprint (``voiceprint_enrolled``); the AASIST cue
  (``synthetic_speech_cue``, decisive only when strong).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from verification.pipeline.analyzer import Analyzer, AnalyzerStream, SessionContext
from verification.pipeline.ringbuffer import AudioRead
from verification.runtime import InferenceExecutor, ModelRegistry
from verification.types import AUDIO_SAMPLE_RATE, Check, Evidence, Outcome, TimeWindow
from verification.voice.antispoof import WINDOW_SAMPLES, AasistDetector
from verification.voice.diarization import STRONG_SECOND_VOICE_FIT, Voice, diarize, interleaved
from verification.voice.quality import AudioQualityMeter
from verification.voice.speaker import Ge2eSpeakerEncoder
from verification.voice.spoofcue import MAX_WINDOWS as MAX_SPOOF_WINDOWS
from verification.voice.spoofcue import MIN_SPACING_S as SPOOF_SPACING_S
from verification.voice.spoofcue import SpectrumAccumulator, SpoofCue, score_window
from verification.voice.vad import CHUNK_SAMPLES, SileroVad, SpeechSegment, SpeechSegmenter
from verification.voice.voiceprint import (
    MATCH_THRESHOLD,
    MIN_ENROL_SPEECH_S,
    NoSpeechError,
    compare,
    enrol,
)
from verification.voice.windows import HOP_S, SpeechWindow, SpeechWindowCollector, mean_voiceprint

log = logging.getLogger(__name__)

# How long the end of an interview waits for an anti-spoofing window still being scored on the
# executor's low-priority lane (0.6-1.6 s of CPU each; longer only on a saturated machine).
SPOOF_WAIT_S = 30.0

MIN_SPEECH_SECONDS = 1.0  # speech presence
MIN_VOICEPRINT_SPEECH_S = 3.0  # below this the session voiceprint is not trusted
VERIFY_EVERY_WINDOWS = 12  # ~10 s of speech at the 0.8 s hop
MAX_WINDOWS_KEPT = 3000  # ~40 min of speech; older windows are thinned beyond this
SHORT_SESSION_S = 8.0  # speech kept whole, to verify a short session against a voiceprint
PAUSE_PROBABILITY = 0.15  # VAD chunks this unlikely to be speech measure the noise
NOISE_CHUNKS = 150  # the noise spectrum is the median of the last ~5 s of pauses
NOISE_BAND_EDGES_HZ = (0, 250, 500, 1000, 2000, 3000, 4000, 6000, 8000)
# A voice heard over noise that differs this much (in any band) from the noise around the main
# voice may be the same person in a new room or on a new microphone - GE2E moves as much with
# the channel as with the speaker: never hard evidence of another person. (A change of gain
# alone shifts the noise too, but does not split a voice: windows are level-normalised.)
CHANNEL_SHIFT_DB = 6.0
# A voice that fits the main one at or above the strong fit is reported ("possible") only when
# it holds this share of the speech: one speaker's own variation forms stray groups of 4-6 s
# (under 10% of a minute) that fit him at 0.77-0.81.
POSSIBLE_VOICE_SHARE = 0.2


@dataclass(frozen=True)
class VoiceConfig:
    match_threshold: float = MATCH_THRESHOLD
    run_antispoof: bool = True


class VoiceStream(AnalyzerStream):
    wants_audio = True

    def __init__(self, analyzer: VoiceAnalyzer, context: SessionContext,
                 executor: InferenceExecutor) -> None:
        super().__init__("voice", executor)
        self._a = analyzer
        self._context = context
        self._vad_state = analyzer.vad.new_state()
        self._segmenter = SpeechSegmenter(analyzer.vad.default_config)
        self._collector = SpeechWindowCollector(analyzer.encoder)
        self._quality = AudioQualityMeter()
        self._spectrum = SpectrumAccumulator()
        self._origin: float | None = None
        self._samples = 0  # samples consumed since the origin
        self._speech_s = 0.0
        self._vad_ms = 0.0
        self._embed_ms = 0.0
        self._windows: list[SpeechWindow] = []
        self._seen_gaps: set[tuple[float, float]] = set()
        self._enrolled: np.ndarray | None = None
        self._enrol_error: str | None = None
        self._enrol_done = False
        self._since_verify = 0
        self._spoof_buffer: list[np.ndarray] = []
        self._spoof_buffered = 0
        self._spoof_start: float | None = None
        self._spoof_last: float | None = None
        self._spoof_cues: list[tuple[float, float, SpoofCue]] = []
        # windows being scored on the executor's background lane: (start, end, future)
        self._spoof_pending: list[tuple[float, float, Future]] = []
        self._pause_bands: deque[np.ndarray] = deque(maxlen=NOISE_CHUNKS)
        self._short_speech: list[np.ndarray] = []  # the first speech, for short sessions
        self._short_speech_n = 0

    # -- helpers ---------------------------------------------------------------------------
    def _enrol_supplied(self) -> None:
        """Embed the supplied voiceprint audio once (in the executor, on the first block)."""
        self._enrol_done = True
        if self._context.voiceprint is None:
            return
        try:
            self._enrolled = enrol(self._a.encoder, self._a.vad, self._context.voiceprint).vector
        except NoSpeechError as err:
            self._enrol_error = f"the supplied voiceprint holds no usable speech ({err})"

    def _segment_evidence(self, segment: SpeechSegment) -> Evidence:
        origin = self._origin or 0.0
        self._speech_s += segment.duration_s
        return Evidence(Check.SPEECH_PRESENCE, Outcome.SUPPORTS,
                        TimeWindow(origin + segment.start_s, origin + segment.end_s),
                        f"speech for {segment.duration_s:.1f} s", model="vad",
                        provider=self._a.vad.model.provider, code="speech_segment")

    def _keep_window(self, window: SpeechWindow) -> None:
        self._windows.append(window)
        self._embed_ms += window.latency_ms
        if len(self._windows) > MAX_WINDOWS_KEPT:  # thin the older half, keep the recent half
            half = MAX_WINDOWS_KEPT // 2
            self._windows = self._windows[:half:2] + self._windows[half:]

    def _verify_recent(self) -> list[Evidence]:
        """Compare the last ~10 s of speech with the supplied voiceprint."""
        if self._enrolled is None or self._since_verify < VERIFY_EVERY_WINDOWS:
            return []
        recent = self._windows[-self._since_verify:]
        self._since_verify = 0
        result = compare(mean_voiceprint(recent), self._enrolled, self._a.config.match_threshold)
        window = TimeWindow(recent[0].start, recent[-1].end)
        outcome = Outcome.SUPPORTS if result.match else Outcome.CONTRADICTS
        return [Evidence(Check.VOICEPRINT, outcome,
                         window, f"voice {'matches' if result.match else 'differs from'} the "
                         f"enrolled voiceprint (similarity {result.similarity:.2f})",
                         score=result.similarity, model="speaker_embedding",
                         provider=self._a.encoder.model.provider,
                         code="voiceprint_match" if result.match else "voiceprint_mismatch",
                         details={"threshold": self._a.config.match_threshold,
                                  "speech_s": round(HOP_S * len(recent), 1)})]

    def _spoof_feed(self, chunk: np.ndarray, t: float) -> None:
        """Buffer speech for AASIST; have a full window scored now and then.

        AASIST costs 0.6-1.6 s of CPU per window: it runs on the executor's low-priority
        background lane (its evidence is advisory and nobody waits for it live) and its
        evidence is collected by :meth:`_spoof_collect` once ready."""
        scored = len(self._spoof_cues) + len(self._spoof_pending)
        if not self._a.config.run_antispoof or scored >= MAX_SPOOF_WINDOWS:
            return
        if self._spoof_last is not None and t - self._spoof_last < SPOOF_SPACING_S:
            return
        if self._spoof_start is None:
            self._spoof_start = t
        self._spoof_buffer.append(chunk)
        self._spoof_buffered += len(chunk)
        if self._spoof_buffered < WINDOW_SAMPLES:
            return
        speech = np.concatenate(self._spoof_buffer)
        start = self._spoof_start
        self._spoof_buffer, self._spoof_buffered, self._spoof_start = [], 0, None
        self._spoof_last = t
        if self._executor is not None:
            future = self._executor.submit_background(score_window, self._a.antispoof, speech)
        else:  # a stream driven synchronously, without an executor (tools, tests): score now
            future = Future()
            try:
                future.set_result(score_window(self._a.antispoof, speech))
            except Exception as err:  # reported by _spoof_collect like a background failure
                future.set_exception(err)
        self._spoof_pending.append((start, t, future))

    async def before_summary(self) -> None:
        """Wait on the event loop for windows still being scored, so that :meth:`summarize`
        (which runs in an inference worker) never blocks a worker on the background lane."""
        pending = [asyncio.wrap_future(future) for _, _, future in self._spoof_pending]
        if pending:
            await asyncio.wait(pending, timeout=SPOOF_WAIT_S)

    def _spoof_collect(self, final: bool) -> list[Evidence]:
        """Evidence of the anti-spoofing windows scored since the last call (``final``: the
        end of the interview; a window still not scored then is logged and left out)."""
        out, still = [], []
        for start, end, future in self._spoof_pending:
            if not future.done():
                if final:
                    log.warning("anti-spoofing window %.1f-%.1f s not scored within %.0f s of "
                                "the end: left out", start, end, SPOOF_WAIT_S)
                else:
                    still.append((start, end, future))
                continue
            try:
                cue = future.result()
            except Exception:  # a failed advisory cue must not lose the interview's evidence
                log.exception("anti-spoofing window %.1f-%.1f s failed", start, end)
                continue
            self._spoof_cues.append((start, end, cue))
            out.append(self._spoof_evidence(start, end, cue))
        self._spoof_pending = still
        return out

    def _spoof_evidence(self, start: float, end: float, cue: SpoofCue) -> Evidence:
        where = ("above every real-speech score measured" if cue.strong
                 else "within the range of real speech")
        text = (f"AASIST spoof margin {cue.margin:.1f}: {where} "
                f"({cue.real_tail_probability:.0%} of real speech scores as high)")
        outcome = Outcome.CONTRADICTS if cue.strong else Outcome.INCONCLUSIVE
        return Evidence(Check.VOICEPRINT, outcome,
                        TimeWindow(start, max(start, end)), text, score=cue.margin,
                        model="voice_antispoof", provider=self._a.antispoof.model.provider,
                        latency_ms=cue.latency_ms, code="synthetic_speech_cue",
                        details=cue.to_details())

    # -- hooks -----------------------------------------------------------------------------
    def process_audio(self, audio: AudioRead) -> Iterable[Evidence]:
        if not self._enrol_done:
            self._enrol_supplied()
        if self._origin is None:
            self._origin = audio.start
        out: list[Evidence] = []
        for gap in audio.gaps:
            key = (gap.window.start, gap.window.end)
            if key not in self._seen_gaps:
                self._seen_gaps.add(key)
                out.append(Evidence(Check.MEDIA_QUALITY, Outcome.INCONCLUSIVE, gap.window,
                                    f"audio {gap.kind}: {gap.window.end - gap.window.start:.2f} s",
                                    code=f"audio_{gap.kind}"))
        base = audio.start - self._a.vad_pending_s(self._vad_state)
        buffered = np.concatenate([self._vad_state.pending, audio.samples])
        steps = self._a.vad.process(audio.samples, self._vad_state)
        for i, step in enumerate(steps):
            self._vad_ms += step.latency_ms
            chunk = buffered[i * CHUNK_SAMPLES:(i + 1) * CHUNK_SAMPLES]
            t = base + i * CHUNK_SAMPLES / AUDIO_SAMPLE_RATE
            segment = self._segmenter.push(step.probability)
            if segment is not None:
                out.append(self._segment_evidence(segment))
            in_gap = any(g.window.start < t + CHUNK_SAMPLES / AUDIO_SAMPLE_RATE
                         and g.window.end > t for g in audio.gaps)
            if in_gap:  # zeros standing in for lost audio: no level, no speaker window
                self._collector.reset()
                continue
            self._quality.add(chunk, step.probability)
            if step.probability <= PAUSE_PROBABILITY:
                self._pause_bands.append(band_levels(chunk))
                self._collector.noise_bands = np.median(np.array(self._pause_bands), axis=0)
            if self._segmenter.in_speech:
                self._spectrum.add(chunk)
                if self._short_speech_n < SHORT_SESSION_S * AUDIO_SAMPLE_RATE:
                    self._short_speech.append(chunk)
                    self._short_speech_n += len(chunk)
                for window in self._collector.add(chunk, t):
                    self._keep_window(window)
                    self._since_verify += 1
                self._spoof_feed(chunk, t)
        out.extend(self._verify_recent())
        out.extend(self._spoof_collect(final=False))
        self._samples += len(audio.samples)
        return out

    def summarize(self) -> Iterable[Evidence]:
        if not self._enrol_done:
            self._enrol_supplied()
        out: list[Evidence] = self._spoof_collect(final=True)
        last = self._segmenter.finish(self._samples)
        if last is not None:
            out.append(self._segment_evidence(last))
        if self._origin is None:
            out.append(Evidence(Check.SPEECH_PRESENCE, Outcome.NOT_CHECKED, TimeWindow(0.0, 0.0),
                                "no audio was received", code="no_audio"))
            out.append(Evidence(Check.VOICEPRINT, Outcome.NOT_CHECKED, TimeWindow(0.0, 0.0),
                                "no audio was received", code="no_audio"))
            return out
        span = TimeWindow(self._origin, self._origin + self._samples / AUDIO_SAMPLE_RATE)
        out.extend(self._presence_summary(span))
        out.extend(self._quality_summary(span))
        out.extend(self._voice_summary(span))
        return out

    def _verify_short(self, span: TimeWindow) -> list[Evidence]:
        """A short session against a supplied voiceprint: all its speech as one utterance, as
        ``voice compare`` embeds a short file (too little for windows or continuity)."""
        speech_s = self._short_speech_n / AUDIO_SAMPLE_RATE
        if self._enrolled is None or speech_s < MIN_ENROL_SPEECH_S:
            return []
        embedding = self._a.encoder.embed_utterance(np.concatenate(self._short_speech))
        result = compare(embedding, self._enrolled, self._a.config.match_threshold)
        outcome = Outcome.SUPPORTS if result.match else Outcome.CONTRADICTS
        return [Evidence(Check.VOICEPRINT, outcome,
                         span, f"{speech_s:.1f} s of speech {'match' if result.match else 'differ'}"
                         f" from the enrolled voiceprint (similarity {result.similarity:.2f})",
                         score=result.similarity, model="speaker_embedding",
                         provider=self._a.encoder.model.provider, latency_ms=embedding.latency_ms,
                         code="voiceprint_match" if result.match else "voiceprint_mismatch",
                         details={"threshold": self._a.config.match_threshold,
                                  "speech_s": round(speech_s, 2), "short_session": True})]

    # -- summaries -------------------------------------------------------------------------
    def _presence_summary(self, span: TimeWindow) -> list[Evidence]:
        enough = self._speech_s >= MIN_SPEECH_SECONDS
        return [Evidence(Check.SPEECH_PRESENCE, Outcome.SUPPORTS if enough else Outcome.CONTRADICTS,
                         span, f"{self._speech_s:.1f} s of speech in {span.end - span.start:.1f} s",
                         score=self._speech_s, model="vad", provider=self._a.vad.model.provider,
                         latency_ms=self._vad_ms,
                         code="speech_summary" if enough else "no_speech")]

    def _quality_summary(self, span: TimeWindow) -> list[Evidence]:
        report = self._quality.report()
        details: dict[str, object] = dict(report.to_details())
        cues = self._spectrum.cues()
        if cues is not None:
            details["channel"] = cues.to_details()
        flags = report.flags
        details["flags"] = list(flags)
        if report.speech_s == 0:
            return [Evidence(Check.MEDIA_QUALITY, Outcome.INCONCLUSIVE, span,
                             "no speech to measure audio quality on", code="audio_quality",
                             details=details)]
        snr = "n/a" if report.snr_db is None else f"{report.snr_db:.0f} dB"
        text = (f"speech at {report.speech_level_dbfs:.0f} dBFS, SNR {snr}, "
                f"{report.clipped_share:.2%} clipped")
        if flags:
            return [Evidence(Check.MEDIA_QUALITY, Outcome.INCONCLUSIVE, span,
                             f"poor audio ({', '.join(flags)}): {text}", code=flag,
                             details=details) for flag in flags]
        return [Evidence(Check.MEDIA_QUALITY, Outcome.SUPPORTS, span, f"audio quality ok: {text}",
                         code="audio_quality", details=details)]

    def _voice_summary(self, span: TimeWindow) -> list[Evidence]:
        common = {"model": "speaker_embedding", "provider": self._a.encoder.model.provider}
        out: list[Evidence] = []
        if self._enrol_error is not None:
            out.append(Evidence(Check.VOICEPRINT, Outcome.NOT_CHECKED, TimeWindow(0.0, 0.0),
                                self._enrol_error, code="voiceprint_no_speech"))
        speech_in_windows = HOP_S * len(self._windows)
        if len(self._windows) < 2 or speech_in_windows < MIN_VOICEPRINT_SPEECH_S:
            out.append(Evidence(Check.VOICEPRINT, Outcome.INCONCLUSIVE, span,
                                f"too little speech for a session voiceprint or a continuity "
                                f"check ({self._speech_s:.1f} s)",
                                code="too_little_speech", **common))
            out.extend(self._verify_short(span))
            return out
        found = diarize(self._windows, HOP_S, reference=self._enrolled)
        main = found.main
        assert main is not None
        main_window = TimeWindow(main.start, main.end)
        out.append(Evidence(Check.VOICEPRINT, Outcome.INCONCLUSIVE, main_window,
                            f"voiceprint enrolled from {main.speech_s:.1f} s of the interview's "
                            f"speech", model=common["model"], provider=common["provider"],
                            latency_ms=self._embed_ms, code="voiceprint_enrolled",
                            details={"source": "interview", "speech_s": round(main.speech_s, 1),
                                     "vector": [round(float(v), 5) for v in main.voiceprint]}))
        if self._enrolled is not None:
            result = compare(main.voiceprint, self._enrolled, self._a.config.match_threshold)
            out.append(Evidence(
                Check.VOICEPRINT, Outcome.SUPPORTS if result.match else Outcome.CONTRADICTS,
                main_window, "the applicant's voice "
                f"{'matches' if result.match else 'differs from'} the enrolled voiceprint "
                f"(similarity {result.similarity:.2f}, threshold "
                f"{self._a.config.match_threshold:.2f})", score=result.similarity,
                code="voiceprint_match" if result.match else "voiceprint_mismatch",
                details={"threshold": self._a.config.match_threshold}, **common))
        total_speech = sum(v.speech_s for v in found.voices)
        others = []
        for voice, fit in found.other_voices():
            shift = noise_shift(main, voice)
            channel_changed = shift is not None and shift >= CHANNEL_SHIFT_DB
            strong = fit < STRONG_SECOND_VOICE_FIT and not channel_changed
            if fit >= STRONG_SECOND_VOICE_FIT and voice.speech_s < POSSIBLE_VOICE_SHARE * \
                    total_speech:
                continue  # a stray group of the main voice, as one speaker forms on his own
            others.append((voice, fit, shift, channel_changed, strong))
        for voice, fit, shift, channel_changed, strong in others:
            together = interleaved(main, voice)
            code = ("second_voice" if together else "voice_changed") if strong \
                else "possible_second_voice"
            kind = "another voice" if together else "a different voice after the first"
            out.append(Evidence(
                Check.VOICEPRINT, Outcome.CONTRADICTS, TimeWindow(voice.start, voice.end),
                f"{kind if strong else 'possibly another voice'}: {voice.speech_s:.1f} s of speech "
                f"at {', '.join(f'{s.start:.1f}-{s.end:.1f} s' for s in voice.spans[:6])}",
                score=fit, code=code,
                details={"fit_to_main": round(fit, 3), "strong_below": STRONG_SECOND_VOICE_FIT,
                         "noise_shift_db": None if shift is None else round(shift, 1),
                         "channel_changed": channel_changed,
                         "speech_s": round(voice.speech_s, 1), "interleaved": together,
                         "spans": [s.to_json() for s in voice.spans]}, **common))
        if not others:
            out.append(Evidence(Check.VOICEPRINT, Outcome.SUPPORTS, main_window,
                                f"one voice throughout ({main.speech_s:.1f} s of speech)",
                                score=1.0, code="voice_continuity",
                                details={"windows": len(self._windows),
                                         "voices_below_min_speech": len(found.voices) - 1},
                                **common))
        return out


def band_levels(chunk: np.ndarray) -> np.ndarray:
    """Energy (dBFS) of one chunk in each of the ``NOISE_BAND_EDGES_HZ`` bands."""
    spectrum = np.fft.rfft(np.asarray(chunk, dtype=np.float64) * np.hanning(len(chunk)))
    power = spectrum.real ** 2 + spectrum.imag ** 2
    freqs = np.fft.rfftfreq(len(chunk), 1.0 / AUDIO_SAMPLE_RATE)
    edges = NOISE_BAND_EDGES_HZ
    bands = [power[(freqs >= lo) & (freqs < hi)].sum()
             for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    return 10.0 * np.log10(np.asarray(bands) / len(chunk) ** 2 + 1e-12)


def noise_shift(main: Voice, other: Voice) -> float | None:
    """Largest per-band difference (dB) between the noise heard around two voices' windows."""
    a = [w.noise_bands for w in main.windows if w.noise_bands is not None]
    b = [w.noise_bands for w in other.windows if w.noise_bands is not None]
    if not a or not b:
        return None
    return float(np.max(np.abs(np.median(a, axis=0) - np.median(b, axis=0))))


class VoiceAnalyzer(Analyzer):
    name = "voice"
    checks = (Check.SPEECH_PRESENCE, Check.VOICEPRINT, Check.MEDIA_QUALITY)

    def __init__(self, registry: ModelRegistry, config: VoiceConfig | None = None) -> None:
        self.config = config or VoiceConfig()
        self.vad: SileroVad = registry.adapter("vad")
        self.encoder: Ge2eSpeakerEncoder = registry.adapter("speaker_embedding")
        self.antispoof: AasistDetector | None = (registry.adapter("voice_antispoof")
                                                 if self.config.run_antispoof else None)

    @staticmethod
    def vad_pending_s(state) -> float:
        """Media seconds of audio the VAD holds back (not yet a full chunk)."""
        return len(state.pending) / AUDIO_SAMPLE_RATE

    def open_stream(self, context: SessionContext, executor: InferenceExecutor) -> AnalyzerStream:
        return VoiceStream(self, context, executor)
