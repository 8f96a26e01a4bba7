"""Speaker verification and second-voice detection on the real speech in ``../shared/media``.

Run: ``.venv/bin/python -m benchmarks.eval_speaker``

1. **Verification** (the ``verification voice compare`` path: Silero-VAD-gated GE2E utterance
   embeddings, cosine similarity): EER and TAR at FAR 1% over all cross pairs of the 60
   LibriSpeech test-other utterances (6 speakers) and the 6 CMU ARCTIC utterances whose speaker
   is documented (aew, axb). The four ARCTIC files whose speaker is not documented
   (``arctic_a0007``, ``arctic_a0009``, ``pyroomacoustics_arctic_a0010``,
   ``amfm_decompy_sample``) are reported separately, each as its own speaker - a guess.
   Also: the same without VAD gating (what gating buys), and leave-one-speaker-out thresholds
   (how far the threshold moves when a speaker is unseen) with the errors on the held-out
   speaker at them.
2. **Second voice**: the session's voice stage (:class:`verification.voice.analyzer.VoiceStream`)
   over ``two_speakers/sample.wav`` against its RTTM (which voice each speech window went to, and
   whether a second voice was reported); over one-speaker sessions (each LibriSpeech speaker's
   ten utterances, plain, with noise on the second half, with a 12 dB level drop) for false
   alarms; and over two-speaker sessions made by inserting a few seconds of another LibriSpeech
   speaker into the middle of one speaker's session.
"""

from __future__ import annotations

import argparse
import glob
import time
from collections import Counter
from pathlib import Path

import numpy as np

from verification.pipeline.analyzer import SessionContext
from verification.pipeline.ringbuffer import AudioRead
from verification.runtime import ModelRegistry
from verification.types import Outcome
from verification.voice.analyzer import VoiceAnalyzer, VoiceConfig, VoiceStream
from verification.voice.audio_io import read_audio_16k
from verification.voice.voiceprint import MATCH_THRESHOLD, enrol

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media" / "speech"
SR = 16_000
UNDOCUMENTED = {"arctic_a0007", "arctic_a0009", "pyroomacoustics_arctic_a0010",
                "amfm_decompy_sample"}


# -- verification ----------------------------------------------------------------------------
def speaker_of(path: str) -> str:
    name = Path(path).stem
    if "librispeech" in path:
        return "libri:" + name.split("-")[0]
    if name.startswith("cmu_arctic_us_"):
        return "arctic:" + name.split("_")[3]
    return "undocumented:" + name


def pair_scores(vectors: np.ndarray, labels: list[str]) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray, np.ndarray]:
    sims = vectors @ vectors.T
    i, j = np.triu_indices(len(labels), 1)
    same = np.array([labels[a] == labels[b] for a, b in zip(i, j, strict=True)])
    return sims[i, j], same, i, j


def eer(scores: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """Equal error rate and its threshold (midpoint of the crossing)."""
    genuine, impostor = scores[same], scores[~same]
    best = (1.0, 0.0, 0.0)
    for t in np.unique(scores):
        far = float(np.mean(impostor >= t))
        frr = float(np.mean(genuine < t))
        if abs(far - frr) < best[0]:
            best = (abs(far - frr), (far + frr) / 2, float(t))
    return best[1], best[2]


def tar_at_far(scores: np.ndarray, same: np.ndarray, far: float = 0.01) -> tuple[float, float]:
    impostor = np.sort(scores[~same])
    k = int(np.floor(far * len(impostor)))  # impostors allowed at or above the threshold
    threshold = impostor[len(impostor) - k - 1] + 1e-9 if k < len(impostor) else -1.0
    return float(np.mean(scores[same] >= threshold)), float(threshold)


def report(name: str, vectors: np.ndarray, labels: list[str]) -> None:
    scores, same, _, _ = pair_scores(vectors, labels)
    e, t = eer(scores, same)
    tar, t1 = tar_at_far(scores, same)
    far = float(np.mean(scores[~same] >= MATCH_THRESHOLD))
    frr = float(np.mean(scores[same] < MATCH_THRESHOLD))
    print(f"  {name:44s} speakers {len(set(labels)):2d} files {len(labels):2d} "
          f"genuine {int(same.sum()):4d} impostor {int((~same).sum()):5d} | EER {e:6.2%} "
          f"(thr {t:.3f}) | TAR@FAR1% {tar:6.2%} (thr {t1:.3f}) | at {MATCH_THRESHOLD}: "
          f"FAR {far:6.2%} FRR {frr:6.2%}")


def leave_one_speaker_out(vectors: np.ndarray, labels: list[str]) -> None:
    scores, same, i, j = pair_scores(vectors, labels)
    speakers = sorted(set(labels))
    lab = np.array(labels)
    thresholds, fa, fr, n_imp, n_gen = [], 0, 0, 0, 0
    for spk in speakers:
        involved = (lab[i] == spk) | (lab[j] == spk)
        _, t = eer(scores[~involved], same[~involved])
        thresholds.append(t)
        held_same = same[involved]
        held = scores[involved]
        fa += int(np.sum(held[~held_same] >= t))
        fr += int(np.sum(held[held_same] < t))
        n_imp += int((~held_same).sum())
        n_gen += int(held_same.sum())
    print(f"  leave-one-speaker-out EER thresholds: {min(thresholds):.3f}-{max(thresholds):.3f}"
          f" (mean {np.mean(thresholds):.3f}); errors on the held-out speakers at them: "
          f"FAR {fa / n_imp:.2%} ({fa}/{n_imp}), FRR {fr / max(n_gen, 1):.2%} ({fr}/{n_gen})")


def verification(registry: ModelRegistry) -> None:
    encoder, vad = registry.adapter("speaker_embedding"), registry.adapter("vad")
    files = sorted(glob.glob(str(MEDIA / "librispeech" / "*" / "*.flac"))) + \
        sorted(glob.glob(str(MEDIA / "cmu_arctic" / "*.wav")))
    gated, raw, labels = [], [], []
    for path in files:
        wav = read_audio_16k(path)
        gated.append(enrol(encoder, vad, wav).vector)
        raw.append(encoder.embed_utterance(wav).vector)
        labels.append(speaker_of(path))
    gated_v, raw_v = np.array(gated), np.array(raw)
    documented = [k for k, lab in enumerate(labels) if not lab.startswith("undocumented")]
    libri = [k for k, lab in enumerate(labels) if lab.startswith("libri")]
    arctic = [k for k, lab in enumerate(labels) if lab.startswith("arctic")]
    print("speaker verification (VAD-gated GE2E, cosine):")
    for name, idx in (("LibriSpeech", libri), ("CMU ARCTIC (documented speakers)", arctic),
                      ("LibriSpeech + ARCTIC (documented)", documented),
                      ("all files (undocumented = own speaker)", list(range(len(labels))))):
        report(name, gated_v[idx], [labels[k] for k in idx])
    report("LibriSpeech + ARCTIC, without VAD gating", raw_v[documented],
           [labels[k] for k in documented])
    leave_one_speaker_out(gated_v[documented], [labels[k] for k in documented])


# -- second voice ----------------------------------------------------------------------------
def run_voice(analyzer: VoiceAnalyzer, wav: np.ndarray) -> list:
    stream = VoiceStream(analyzer, SessionContext("eval"), None)  # type: ignore[arg-type]
    out = []
    block = SR // 2
    for start in range(0, len(wav), block):
        out += stream.process_audio(AudioRead(wav[start:start + block], start / SR, ()))
    out += stream.summarize()
    return out


def voice_codes(evidence: list) -> Counter:
    """The session's outcome on voice continuity: ``second voice (hard)`` when any hard code
    (second_voice, voice_changed) was raised, else ``possible (review)``, else ``one voice``."""
    codes = {e.code for e in evidence
             if e.check.value == "voiceprint" and e.outcome is not Outcome.INCONCLUSIVE}
    if codes & {"second_voice", "voice_changed"}:
        return Counter({"second voice (hard)": 1})
    if "possible_second_voice" in codes:
        return Counter({"possible (review)": 1})
    return Counter({"one voice": 1})


def rttm_turns(path: Path) -> list[tuple[float, float, str]]:
    turns = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == "SPEAKER":
            start, dur = float(parts[3]), float(parts[4])
            turns.append((start, start + dur, parts[7]))
    return turns


def second_voice(registry: ModelRegistry) -> None:
    analyzer = VoiceAnalyzer(registry, VoiceConfig(run_antispoof=False))
    sample = MEDIA / "two_speakers" / "sample.wav"
    turns = rttm_turns(sample.with_suffix(".rttm"))
    evidence = run_voice(analyzer, read_audio_16k(sample))
    print("\nsecond voice on two_speakers/sample.wav (30 s, two speakers, RTTM reference):")
    for e in evidence:
        if e.check.value == "voiceprint" and e.code != "voiceprint_enrolled":
            print(f"  {e.code:22s} {e.outcome.value:12s} {e.window.start:5.1f}-{e.window.end:5.1f}"
                  f" s  {e.summary}")
    # Window-level agreement with the RTTM: rebuild the diarization the stream made.
    from verification.voice.diarization import diarize
    from verification.voice.windows import HOP_S
    stream = VoiceStream(analyzer, SessionContext("eval"), None)  # type: ignore[arg-type]
    wav = read_audio_16k(sample)
    for start in range(0, len(wav), SR // 2):
        stream.process_audio(AudioRead(wav[start:start + SR // 2], start / SR, ()))
    found = diarize(stream._windows, HOP_S)  # noqa: SLF001 - evaluation looks inside
    pure, agree = 0, 0
    mapping: dict[int, Counter] = {}
    labelled = []
    for v_index, voice in enumerate(found.voices):
        for w in voice.windows:
            overlap = Counter()
            for a, b, spk in turns:
                overlap[spk] += max(0.0, min(b, w.end) - max(a, w.start))
            if not overlap:
                continue
            spk, amount = overlap.most_common(1)[0]
            if amount >= 0.8 * sum(overlap.values()) and amount > 0.5:
                labelled.append((v_index, spk))
                mapping.setdefault(v_index, Counter())[spk] += 1
    for v_index, spk in labelled:
        pure += 1
        agree += mapping[v_index].most_common(1)[0][0] == spk
    majority = {v: c.most_common(1)[0][0] for v, c in mapping.items()}
    print(f"  voices found: {len(found.voices)} with "
          f"{[round(v.speech_s, 1) for v in found.voices]} s of speech; majority RTTM speaker "
          f"per voice: {majority}")
    print(f"  single-speaker windows assigned to their voice's majority speaker: "
          f"{agree}/{pure} ({agree / max(pure, 1):.0%})")

    print("\nfalse alarms on one-speaker sessions (each LibriSpeech speaker, 10 utterances; "
          "sessions by outcome):")
    speakers = sorted(p for p in glob.glob(str(MEDIA / "librispeech" / "*")) if Path(p).is_dir())
    sessions = {Path(s).name: np.concatenate([read_audio_16k(f)
                                              for f in sorted(glob.glob(s + "/*.flac"))])
                for s in speakers}
    rng = np.random.default_rng(0)
    for variant in ("plain", "noise_2nd_half_15dB", "level_drop_12dB"):
        codes = Counter()
        for wav in sessions.values():
            x = wav.copy()
            half = len(x) // 2
            if variant.startswith("noise"):
                power = np.mean(x[half:] ** 2)
                x[half:] += rng.normal(0, np.sqrt(power / 10 ** 1.5), len(x) - half
                                       ).astype(np.float32)
            elif variant.startswith("level"):
                x[half:] *= 10 ** (-12 / 20)
            codes.update(voice_codes(run_voice(analyzer, x)))
        print(f"  {variant:22s} {dict(codes)}")

    print("\ntwo-speaker sessions (speaker A's session with N s of speaker B in the middle; B is "
          "recorded elsewhere, so its channel differs too):")
    names = sorted(sessions)
    for seconds in (4, 8):
        codes = Counter()
        for k, a in enumerate(names):
            for b in (names[(k + 1) % len(names)], names[(k + 3) % len(names)]):
                wa, wb = sessions[a], sessions[b]
                insert = wb[: seconds * SR]
                mid = len(wa) // 2
                codes.update(voice_codes(run_voice(analyzer, np.concatenate(
                    [wa[:mid], insert, wa[mid:]]))))
        print(f"  B speaks {seconds} s (12 ordered pairs): {dict(codes)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["all", "verification", "second_voice"], default="all")
    args = parser.parse_args()
    started = time.time()
    registry = ModelRegistry.from_manifest(provider="cpu")
    if args.part in ("all", "verification"):
        verification(registry)
    if args.part in ("all", "second_voice"):
        second_voice(registry)
    print(f"\n({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
