"""Offline runner: a recording through the same session code a live interview uses.

Frames and audio are fed with their media timestamps; every frame at the chosen cadence is
analysed (``put_video`` waits for the analyzer instead of dropping, so results do not depend on
machine speed). Checks that no analyzer can run yet are reported as ``not_checked`` and the
verdict is never ``pass`` on missing evidence.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from verification.analyzers import default_analyzers
from verification.fusion.policy import DefaultPolicy
from verification.pipeline.analyzer import SessionContext
from verification.pipeline.session import SessionResult, VerificationSession
from verification.runtime import InferenceExecutor, ModelRegistry, ThreadBudget
from verification.types import AudioChunk, Check, Evidence, Outcome, TimeWindow, VideoFrame
from verification.video.decode import iter_media, probe
from verification.video.images import load_image
from verification.voice.audio_io import read_audio_16k


@dataclass(frozen=True)
class AnalyzeOptions:
    recording: Path
    id_photo: Path | None = None
    voiceprint: Path | None = None
    geo: dict[str, Any] = field(default_factory=dict)
    script: dict[str, Any] = field(default_factory=dict)
    fps: float = 5.0
    provider: str = "cpu"


def _input_evidence(options: AnalyzeOptions, context: SessionContext,
                    registry: ModelRegistry) -> list[Evidence]:
    """Evidence about the inputs themselves (an ID photo without a face, ...)."""
    out: list[Evidence] = []
    if context.id_photo is not None:
        faces = registry.adapter("face_detector").detect(context.id_photo)
        if len(faces) == 0:
            out.append(Evidence(Check.FACE_MATCH, Outcome.NOT_CHECKED, TimeWindow(0.0, 0.0),
                                "the ID photo shows no face", code="id_photo_no_face",
                                model="face_detector"))
    return out


async def _drive(options: AnalyzeOptions, context: SessionContext,
                 registry: ModelRegistry) -> SessionResult:
    executor = InferenceExecutor(registry.budget)
    try:
        session = VerificationSession(context, default_analyzers(registry), DefaultPolicy(),
                                      executor)
        await session.start()
        for item in await executor.run(_input_evidence, options, context, registry):
            session.add_evidence(item)
        media = iter_media(options.recording, video_fps=options.fps)
        sentinel = object()
        while (item := await asyncio.to_thread(next, media, sentinel)) is not sentinel:
            if isinstance(item, VideoFrame):
                await session.put_video(item)
            elif isinstance(item, AudioChunk):
                session.offer_audio(item)
        return await session.finish()
    finally:
        executor.shutdown()


def analyze_recording(options: AnalyzeOptions) -> dict[str, Any]:
    info = probe(options.recording)  # unreadable recordings fail here, before models load
    context = SessionContext(
        session_id=f"offline:{options.recording.name}",
        id_photo=load_image(options.id_photo) if options.id_photo else None,
        voiceprint=read_audio_16k(options.voiceprint) if options.voiceprint else None,
        geo=options.geo,
        script=options.script,
    )
    registry = ModelRegistry.from_manifest(provider=options.provider,  # type: ignore[arg-type]
                                           budget=ThreadBudget.for_machine())
    result = asyncio.run(_drive(options, context, registry))
    return {
        "recording": {"path": str(info.path), "duration_s": info.duration_s,
                      "video": info.has_video, "audio": info.has_audio,
                      "width": info.width, "height": info.height, "fps": info.fps},
        "verdict": result.verdict.to_json(),
        "evidence": [e.to_json() for e in result.evidence],
        "stats": [asdict(s) for s in result.stats],
    }
