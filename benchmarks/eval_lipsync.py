"""Lip-speech sync and the spoken-digit challenge on the GRID clips, against dubbing and replays.

Run: ``.venv/bin/python -m benchmarks.eval_lipsync [--fps 25 12.5] [--quick]``

Real material: the six GRID talking-face clips in ``../shared/media/face_video/grid`` (3 s,
25 fps, one six-word sentence each), as recorded and re-encoded as a weak WebRTC link would carry
them (320x240 VP8 at 150 kbps with Opus audio). Attacks, built from the same clips and passed
through the same encoder:

* ``dubbed``: clip A's video with clip B's audio (all 30 ordered pairs) - GRID sentences share
  one template and rhythm ("lay blue at x four now"), so this is a hard dub;
* ``shifted``: the clip's own audio delayed or advanced by 0.5 s and 1.0 s;
* ``still_photo``: the first frame repeated, with the real audio;
* ``frozen_frame``: the video freezes 0.2 s after the speech starts, the audio goes on.

Each combination runs through the production code: the face stage's tracker
(:class:`verification.face.observation.FaceTracker`) and the lip-sync cue
(:class:`verification.voice.lipsync_cue.LipSyncCue`), fed in media-time order as the face stream
feeds it. A clip *passes* when lip sync is supported (no contradicting evidence), *fails* when
any evidence contradicts it, and is *inconclusive* otherwise (a review, not a reject).

Calibration (printed first): the in-sync correlation that *unrelated* speech reaches with the
GRID mouths (LibriSpeech audio laid under each clip) - the null distribution the thresholds in
:mod:`verification.voice.lipsync` are set against. The attack set is never used to tune them.

Interview-length speech: a 3 s clip holds under 2 s of speech, too little to place a
correlation between "unrelated" and "own" speech (see :mod:`verification.voice.lipsync`), so
most short clips end *inconclusive*. An interview's answers add up: the same evaluation is run on
18 s "interviews" made by joining the six clips (each rotation of their order is one interview;
dubbed = every sentence carries another sentence's audio; shifted = the whole audio moved; still
photo / frozen frame = every sentence).

The digit challenge is simulated with the same clips: a GRID sentence is six words read in about
2 s, like six digits; a ``digits`` prompt 0.1 s into the clip with a 3 s window asks for them.
"""

from __future__ import annotations

import argparse
import glob
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.liveness_attacks import read_clip, write_clip
from verification.face.observation import FaceTracker, TrackerConfig
from verification.pipeline.analyzer import SessionContext
from verification.pipeline.ringbuffer import AudioRead
from verification.runtime import ModelRegistry
from verification.types import Outcome
from verification.voice.audio_io import read_audio_16k
from verification.voice.envelope import envelope
from verification.voice.lipsync import SYNC_LAG_S, assess_sync
from verification.voice.lipsync_cue import LipSyncCue
from verification.voice.mouth import mouth_opening

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
GRID = sorted(glob.glob(str(MEDIA / "face_video" / "grid" / "*.mpg")))
LIBRI = sorted(glob.glob(str(MEDIA / "speech" / "librispeech" / "*" / "*.flac")))
SR = 16_000
ENCODINGS = {
    "recorded": None,  # the original MPEG-1 file
    "vp8_150k": {"codec": "libvpx", "bitrate": 150_000, "size": (320, 240)},
}
SHIFTS = (0.5, -0.5, 1.0, -1.0)


def shift_audio(audio: np.ndarray, seconds: float, rate: int) -> np.ndarray:
    """Delay (positive) or advance (negative) the audio, keeping its length."""
    n = int(round(abs(seconds) * rate))
    if seconds > 0:
        return np.concatenate([np.zeros(n, audio.dtype), audio[:-n]])
    return np.concatenate([audio[n:], np.zeros(n, audio.dtype)])


def first_speech_s(vad, audio16: np.ndarray) -> float:
    found = vad.detect(audio16)
    return found.segments[0].start_s if found.segments else 0.5


class Runner:
    def __init__(self, registry: ModelRegistry) -> None:
        self.vad = registry.adapter("vad")
        self.tracker_parts = registry
        self.cache: dict[tuple, list] = {}

    def observations(self, key: tuple, frames: list[np.ndarray], fps: float) -> list:
        if key not in self.cache:
            tracker = FaceTracker.from_registry(self.tracker_parts,
                                                TrackerConfig(blendshapes=False),
                                                with_encoder=False)
            self.cache[key] = [tracker.observe(f, i / fps, i) for i, f in enumerate(frames)]
        return self.cache[key]

    def run(self, observations: list, audio16: np.ndarray, keep_every: int = 1,
            script: dict | None = None) -> list:
        cue = LipSyncCue(self.vad, SessionContext("eval", script=script or {}))
        block = SR // 2
        blocks = [(i / SR, audio16[i:i + block]) for i in range(0, len(audio16), block)]
        out, b = [], 0
        for obs in observations[::keep_every]:
            while b < len(blocks) and blocks[b][0] <= obs.pts:
                out += cue.observe_audio(AudioRead(blocks[b][1], blocks[b][0], ()))
                b += 1
            out += cue.observe(obs, None)  # type: ignore[arg-type]
        for start, samples in blocks[b:]:
            out += cue.observe_audio(AudioRead(samples, start, ()))
        out += cue.summarize()
        return out


def outcome(evidence: list, codes: tuple[str, ...] | None = None) -> str:
    items = [e for e in evidence if codes is None or e.code in codes]
    if any(e.outcome is Outcome.CONTRADICTS for e in items):
        return "fail"
    if any(e.outcome is Outcome.SUPPORTS for e in items):
        return "pass"
    return "inconclusive"


def build_clip_media(clip: str, encoding: dict | None, tmp: Path, runner: Runner
                     ) -> dict[str, tuple[list[np.ndarray], np.ndarray, float]]:
    """Video frames + 16 kHz audio for the real clip, the still photo and the frozen frame,
    passed through ``encoding`` (None: the original recording)."""
    frames, audio48, fps = read_clip(clip)
    audio16 = read_audio_16k(clip)
    onset = first_speech_s(runner.vad, audio16)
    freeze_at = min(len(frames) - 1, int((onset + 0.2) * fps))
    videos = {
        "real": frames,
        "still_photo": [frames[0]] * len(frames),
        "frozen_frame": frames[:freeze_at] + [frames[freeze_at]] * (len(frames) - freeze_at),
    }
    out = {}
    for kind, vid in videos.items():
        if encoding is None and kind == "real":
            out[kind] = (frames, audio16, fps)
            continue
        path = write_clip(tmp / f"{Path(clip).stem}_{kind}.webm" if encoding
                          else tmp / f"{Path(clip).stem}_{kind}.mp4", vid, fps, audio48,
                          **(encoding or {"codec": "libx264"}))
        dec_frames, _, _ = read_clip(path)
        out[kind] = (dec_frames, read_audio_16k(path), fps)
    return out


def attack_audio(audio16: np.ndarray, audio48: np.ndarray, encoding: dict | None, tmp: Path,
                 frames: list[np.ndarray], fps: float) -> np.ndarray:
    """Attack audio as the receiver hears it: through the link's Opus codec when encoded."""
    if encoding is None:
        return audio16
    path = write_clip(tmp / "audio_only.webm", frames[:2], fps, audio48, **encoding)
    return read_audio_16k(path)[: len(audio16)]


def fit_length(audio: np.ndarray, n: int) -> np.ndarray:
    return audio[:n] if len(audio) >= n else np.pad(audio, (0, n - len(audio)))


def null_calibration(runner: Runner, fps_keep: int) -> None:
    """In-sync correlation reached by unrelated speech (LibriSpeech) under each GRID mouth."""
    rng = np.random.default_rng(0)
    corr, passes, total = [], 0, 0
    for clip in GRID:
        frames, _, fps = read_clip(clip)
        obs = runner.observations((clip, "recorded", "real"), frames, fps)[::fps_keep]
        times = np.array([o.pts for o in obs])
        mouth = np.array([mouth_opening(o.landmarks) if o.face else np.nan for o in obs])
        real = read_audio_16k(clip)
        found = runner.vad.detect(real)
        start, end = found.segments[0].start_s, found.segments[-1].end_s
        for path in LIBRI[::3]:
            other = read_audio_16k(path)
            speech = runner.vad.detect(other).segments
            if not speech:
                continue
            # Unrelated speech laid under the clip's speech span (same length, same place).
            a = int(rng.uniform(speech[0].start_s, max(speech[0].start_s,
                                                       speech[-1].end_s - (end - start) - 0.1))
                    * SR)
            mix = np.zeros_like(real)
            piece = other[a:a + int((end - start + 0.6) * SR)]
            s0 = int(max(0.0, start - 0.3) * SR)
            mix[s0:s0 + len(piece)] = piece[: len(mix) - s0]
            env = envelope(mix)
            result = assess_sync(times, mouth, env, 0.0, start, end)
            total += 1
            if result.correlation is not None:
                corr.append(result.correlation)
            passes += result.verdict.value == "in_sync"
    c = np.array(corr)
    if not len(c):  # e.g. below MIN_MOUTH_FPS nothing is judged
        print(f"null (unrelated LibriSpeech audio under {len(GRID)} GRID mouths, n={total}): "
              f"no window judged; judged in sync: {passes}/{total}")
        return
    print(f"null (unrelated LibriSpeech audio under {len(GRID)} GRID mouths, n={total}): "
          f"best in-sync r (|lag|<={SYNC_LAG_S}s) mean {c.mean():.2f}, sd {c.std():.2f}, "
          f"p90 {np.percentile(c, 90):.2f}, p95 {np.percentile(c, 95):.2f}, "
          f"p99 {np.percentile(c, 99):.2f}, max {c.max():.2f}; judged in sync: {passes}/{total}")


def evaluate(runner: Runner, fps_keep: int, quick: bool) -> None:
    clips = GRID[:3] if quick else GRID
    tally: dict[tuple[str, str], Counter] = defaultdict(Counter)
    digits: dict[tuple[str, str], Counter] = defaultdict(Counter)
    correlations: dict[str, list] = defaultdict(list)
    script = {"steps": [{"type": "digits", "t": 0.1, "digits": "123456", "window": 3.0}]}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for enc_name, encoding in ENCODINGS.items():
            media = {clip: build_clip_media(clip, encoding, tmp, runner) for clip in clips}
            audio48 = {clip: read_clip(clip)[1] for clip in clips}
            for clip in clips:
                real_frames, real_audio, fps = media[clip]["real"]
                obs_real = runner.observations((clip, enc_name, "real"), real_frames, fps)
                cases = [("real", obs_real, real_audio)]
                n16 = len(read_audio_16k(clip))
                n48 = len(audio48[clip])
                for other in clips:
                    if other != clip:
                        dub = attack_audio(fit_length(read_audio_16k(other), n16),
                                           fit_length(audio48[other], n48), encoding, tmp,
                                           real_frames, fps)
                        cases.append(("dubbed", obs_real, dub))
                for s in SHIFTS:
                    shifted = attack_audio(shift_audio(read_audio_16k(clip), s, SR),
                                           shift_audio(audio48[clip], s, 48_000), encoding, tmp,
                                           real_frames, fps)
                    cases.append((f"shifted_{abs(s):g}s", obs_real, shifted))
                for kind in ("still_photo", "frozen_frame"):
                    frames, audio, _ = media[clip][kind]
                    cases.append((kind, runner.observations((clip, enc_name, kind), frames, fps),
                                  audio))
                for kind, obs, audio in cases:
                    ev = runner.run(obs, audio, fps_keep)
                    tally[(enc_name, kind)][outcome(ev)] += 1
                    corr = [e.details.get("correlation") for e in ev
                            if e.code.startswith("lip_sync_") and e.details.get("correlation")
                            is not None]
                    correlations[kind] += corr[:1]
                    dv = runner.run(obs, audio, fps_keep, script)
                    digits[(enc_name, kind)][outcome(dv, ("digit_challenge_passed",
                                                          "digits_not_spoken",
                                                          "digit_count_mismatch",
                                                          "digit_challenge_inconclusive",
                                                          "lip_sync_mismatch"))] += 1
    print(f"\nlip sync per clip ({25 / fps_keep:g} analysed fps): pass / inconclusive / fail")
    for (enc, kind), c in sorted(tally.items(), key=lambda kv: (kv[0][0], kv[0][1] != "real",
                                                                 kv[0][1])):
        n = sum(c.values())
        target = "should pass" if kind == "real" else "must not pass"
        print(f"  {enc:9s} {kind:13s} n={n:3d}  pass {c['pass']:3d}  inconclusive "
              f"{c['inconclusive']:3d}  fail {c['fail']:3d}   ({target})")
    attacks = sum(c["pass"] for (e, k), c in tally.items() if k != "real")
    n_attacks = sum(sum(c.values()) for (e, k), c in tally.items() if k != "real")
    real = [c for (e, k), c in tally.items() if k == "real"]
    real_fail = sum(c["fail"] for c in real)
    real_not_pass = sum(c["fail"] + c["inconclusive"] for c in real)
    n_real = sum(sum(c.values()) for c in real)
    print(f"  attacks passed: {attacks}/{n_attacks};  real clips failed (rejected): "
          f"{real_fail}/{n_real};  real clips not passed (failed or inconclusive): "
          f"{real_not_pass}/{n_real}")
    for kind, values in sorted(correlations.items()):
        if values:
            v = np.array(values)
            print(f"    correlation {kind:13s} mean {v.mean():.2f} sd {v.std():.2f} "
                  f"median {np.median(v):.2f} min {v.min():.2f} max {v.max():.2f}")
    print("\ndigit challenge (GRID sentence read as 6 'digits'): pass / inconclusive / fail")
    for (enc, kind), c in sorted(digits.items(), key=lambda kv: (kv[0][0], kv[0][1] != "real",
                                                                  kv[0][1])):
        print(f"  {enc:9s} {kind:13s} pass {c['pass']:3d}  inconclusive {c['inconclusive']:3d}"
              f"  fail {c['fail']:3d}")


def join_clips(parts: dict, order: list[str], kind: str, audio_of: list[str] | None = None
               ) -> tuple[list, np.ndarray]:
    """Observations and audio of the clips in ``order`` one after another (media times moved
    on); ``audio_of`` puts another clip's real audio under each one (a dub)."""
    obs: list = []
    sound, offset = [], 0.0
    for k, clip in enumerate(order):
        o, a = parts[clip][kind]
        src = fit_length(parts[audio_of[k]]["real"][1] if audio_of else a, len(a))
        obs += [replace(x, pts=x.pts + offset) for x in o]
        sound.append(src)
        offset += len(a) / SR
    return obs, np.concatenate(sound)


def interviews(runner: Runner, fps_keep: int) -> None:
    """Interview-length sessions joined from the clips (see the module notes)."""
    tally: dict[tuple[str, str], Counter] = defaultdict(Counter)
    corr: dict[str, list] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for enc_name, encoding in ENCODINGS.items():
            parts = {}
            for clip in GRID:
                media = build_clip_media(clip, encoding, tmp, runner)
                frames, audio, fps = media["real"]
                parts[clip] = {kind: (runner.observations((clip, enc_name, kind),
                                                          media[kind][0], fps), media[kind][1])
                               for kind in ("real", "still_photo", "frozen_frame")}
            n = len(GRID)
            for r in range(n):
                order = [GRID[(r + k) % n] for k in range(n)]

                cases = [("real", *join_clips(parts, order, "real"))]
                for d in range(1, n):
                    cases.append(("dubbed", *join_clips(parts, order, "real",
                                                        [order[(k + d) % n] for k in range(n)])))
                obs, sound = join_clips(parts, order, "real")
                for sh in SHIFTS:
                    cases.append((f"shifted_{abs(sh):g}s", obs, shift_audio(sound, sh, SR)))
                cases.append(("still_photo", *join_clips(parts, order, "still_photo")))
                cases.append(("frozen_frame", *join_clips(parts, order, "frozen_frame")))
                for kind, obs, sound in cases:
                    ev = runner.run(obs, sound, fps_keep)
                    tally[(enc_name, kind)][outcome(ev)] += 1
                    session = [e.details.get("session") for e in ev
                               if e.details.get("session")]
                    if session and session[-1].get("correlation") is not None:
                        corr[kind].append(session[-1]["correlation"])
    print(f"\n18 s interviews joined from the six clips ({25 / fps_keep:g} analysed fps): "
          f"pass / inconclusive / fail")
    for (enc, kind), c in sorted(tally.items(), key=lambda kv: (kv[0][0], kv[0][1] != "real",
                                                                 kv[0][1])):
        print(f"  {enc:9s} {kind:13s} n={sum(c.values()):3d}  pass {c['pass']:3d}  "
              f"inconclusive {c['inconclusive']:3d}  fail {c['fail']:3d}")
    for kind, values in sorted(corr.items()):
        v = np.array(values)
        print(f"    session correlation {kind:13s} min {v.min():.2f} median {np.median(v):.2f} "
              f"max {v.max():.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fps", type=float, nargs="+", default=[12.5],
                        help="analysed frames per second (25 = every frame, 12.5 = every other)")
    parser.add_argument("--quick", action="store_true", help="three clips only")
    args = parser.parse_args()
    registry = ModelRegistry.from_manifest(provider="cpu")
    runner = Runner(registry)
    started = time.time()
    for fps in args.fps:
        keep = max(1, int(round(25.0 / fps)))
        print(f"=== {25.0 / keep:g} analysed frames per second ===")
        null_calibration(runner, keep)
        evaluate(runner, keep, args.quick)
        if not args.quick:
            interviews(runner, keep)
    print(f"\n({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
