"""Offline runner: a recording through the same session code a live interview uses.

Frames and audio are fed with their media timestamps; every frame at the chosen cadence is
analysed (``put_video`` waits for the analyzer instead of dropping, so results do not depend on
machine speed). Checks that no analyzer can run yet are reported as ``not_checked`` and the
verdict is never ``pass`` on missing evidence.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from verification.analyzers import default_analyzers
from verification.fusion.policy import DefaultPolicy, PolicyConfig
from verification.pipeline.analyzer import Analyzer, SessionContext
from verification.pipeline.session import SessionResult, VerificationSession
from verification.runtime import InferenceExecutor, ModelRegistry, ThreadBudget
from verification.types import AudioChunk, Check, Evidence, VideoFrame
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
    """Evidence about the inputs themselves that no analyzer produces (none at present).

    An ID photo that cannot be decoded stops ``analyze`` before any model loads, with one
    ``error:`` line (code ``unreadable``); an ID photo without a face, or with several, is
    reported by the face analyzer (``id_photo_no_face``, ``id_photo_multiple_faces``).
    """
    return []


def policy_for(script: dict[str, Any]) -> DefaultPolicy:
    """The fusion policy for a recording.

    With face challenges in the script, the default policy. Without (an uploaded recording),
    the decision rests on passive evidence alone, so it is stricter: face liveness and face
    match pass only when *every* piece of their evidence supports them (each passive
    presentation-attack cue clearly says "live", the face matches the ID photo); anything
    inconclusive goes to review, and hard-gate codes still reject.
    """
    from verification.face.challenges.actions import parse_action
    from verification.prompt_script import PromptScript

    if any(parse_action(step.type) for step in PromptScript.from_json(script).steps):
        return DefaultPolicy()
    return DefaultPolicy(PolicyConfig(version="passive-1",
                                      unanimous=(Check.FACE_LIVENESS, Check.FACE_MATCH)))


def decode_fps(requested: float, analyzers: Sequence[Analyzer]) -> float:
    """Frames per second to analyse: ``--fps``, raised to what an analyzer - or a face cue it
    runs - declares as ``min_video_fps`` (lip sync reads the mouth 12.5 times a second: its
    1.5-6 Hz syllable band is lost at 5 fps)."""
    needs = [float(getattr(a, "min_video_fps", 0.0)) for a in analyzers]
    needs += [float(getattr(f, "min_video_fps", 0.0)) for a in analyzers
              for f in getattr(a, "cue_factories", ())]
    return max([requested, *needs])


async def _drive(options: AnalyzeOptions, context: SessionContext,
                 registry: ModelRegistry) -> SessionResult:
    executor = InferenceExecutor(registry.budget)
    try:
        analyzers = default_analyzers(registry)
        session = VerificationSession(context, analyzers, policy_for(options.script), executor)
        await session.start()
        for item in await executor.run(_input_evidence, options, context, registry):
            session.add_evidence(item)
        media = iter_media(options.recording, video_fps=decode_fps(options.fps, analyzers))
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
