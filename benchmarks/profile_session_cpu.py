"""Where one live session's analysis CPU goes: per analyzer (and per function), in CPU time.

Replays GRID clips the way a live interview feeds the analyzers (video at ``--fps`` analysed
frames per second, audio in 20 ms chunks) but calls every stream's ``process_frame`` /
``process_audio`` synchronously in this thread, so ``time.thread_time`` around each call is that
analyzer's cost (onnxruntime runs one intra-op thread per call, in the calling thread) and
``cProfile`` with a CPU-time clock gives the per-function split. CPU time, not wall time: the
machine is shared, and wall time would charge other processes' work to us.

    .venv/bin/python -m benchmarks.profile_session_cpu [--fps 5] [--seconds 30] [--top 25]

Prints, per analyzer, CPU milliseconds per media second (= share of one core at real time) and
the sum: the analysis part of "core per session" (the WebRTC receive path is on top).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
from collections import defaultdict
from pathlib import Path

from verification.analyzers import default_analyzers
from verification.pipeline.analyzer import SessionContext
from verification.runtime import InferenceExecutor, ModelRegistry, ThreadBudget
from verification.runtime.model import OnnxModel
from verification.types import AUDIO_SAMPLE_RATE, AudioChunk, VideoFrame
from verification.video.decode import iter_media

REPO = Path(__file__).resolve().parents[1]
GRID = REPO.parent / "shared" / "media" / "face_video" / "grid"


def _media(seconds: float, fps: float) -> list[VideoFrame | AudioChunk]:
    items: list[VideoFrame | AudioChunk] = []
    offset = 0.0
    for clip in sorted(GRID.glob("*.mpg")):
        end = offset
        for item in iter_media(clip, video_fps=fps):
            if isinstance(item, VideoFrame):
                items.append(VideoFrame(item.image, pts=item.pts + offset, index=len(items)))
                end = max(end, item.pts + offset)
            else:
                items.append(AudioChunk(item.samples, pts=item.pts + offset))
                end = max(end, item.pts + offset + len(item.samples) / AUDIO_SAMPLE_RATE)
        offset = end + 0.04
        if offset >= seconds:
            break
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fps", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-cprofile", action="store_true",
                        help="time the analyzers only (cProfile's own overhead inflates Python)")
    parser.add_argument("--no-vad-memo", action="store_true",
                        help="run VAD for every analyzer (the cost before the shared memo)")
    args = parser.parse_args()
    if args.no_vad_memo:
        from verification.voice import vad

        vad.MEMO_ENTRIES = 0

    registry = ModelRegistry.from_manifest(provider="cpu", budget=ThreadBudget(1, 1))
    executor = InferenceExecutor(registry.budget)
    items = _media(args.seconds, args.fps)
    first = next(i for i in items if isinstance(i, VideoFrame))
    context = SessionContext("profile", id_photo=first.image)
    analyzers = default_analyzers(registry)
    streams = [a.open_stream(context, executor) for a in analyzers]
    cost: dict[str, float] = defaultdict(float)
    model_cost: dict[str, float] = defaultdict(float)
    model_calls: dict[str, int] = defaultdict(int)
    original_run = OnnxModel.run

    def timed_run(self: OnnxModel, feeds):  # noqa: ANN001, ANN202
        t0 = time.thread_time()
        try:
            return original_run(self, feeds)
        finally:
            model_cost[self.name] += time.thread_time() - t0
            model_calls[self.name] += 1

    OnnxModel.run = timed_run  # type: ignore[method-assign]
    profile = cProfile.Profile(time.thread_time)
    call = (lambda fn: fn()) if args.no_cprofile else profile.runcall
    media_s = 0.0
    for item in items:
        if isinstance(item, VideoFrame):
            media_s = max(media_s, item.pts)
            for stream in streams:
                if stream.wants_video:
                    t0 = time.thread_time()
                    call(lambda s=stream, f=item: list(s.process_frame(f)))
                    cost[stream.name] += time.thread_time() - t0
        else:
            for stream in streams:
                if not stream.wants_audio:
                    continue
                stream._audio.write(item)
                while stream._audio.available >= stream._block_samples:
                    block = stream._audio.read(stream._block_samples)
                    t0 = time.thread_time()
                    call(lambda s=stream, b=block: list(s.process_audio(b)))
                    cost[stream.name] += time.thread_time() - t0
    for stream in streams:
        t0 = time.thread_time()
        list(stream.summarize())
        cost[stream.name + " (summary)"] += time.thread_time() - t0
    executor.shutdown()
    print(f"media {media_s:.1f} s at {args.fps:g} analysed fps; CPU ms per media second "
          "(= % of one core x10):")
    total = 0.0
    for name, seconds in sorted(cost.items(), key=lambda kv: -kv[1]):
        per = seconds / media_s * 1000
        if "(summary)" not in name:
            total += per
        print(f"  {name:28s} {per:7.1f}")
    print(f"  {'analysis total':28s} {total:7.1f}  ({total / 10:.1f} % of a core)")
    print("models (CPU ms per media second, calls per media second):")
    for name, seconds in sorted(model_cost.items(), key=lambda kv: -kv[1]):
        print(f"  {name:28s} {seconds / media_s * 1000:7.1f}  {model_calls[name] / media_s:6.1f}")
    if args.no_cprofile:
        return
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats("verification", args.top)
    print(out.getvalue())


if __name__ == "__main__":
    main()
