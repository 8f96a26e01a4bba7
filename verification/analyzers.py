"""The analyzers a session runs by default, built once per process from the model registry."""

from __future__ import annotations

from verification.expression.cue import ExpressionCue
from verification.face.analyzer import FaceAnalyzer
from verification.face.challenges.cue import ChallengeCue
from verification.face.pad import PresentationAttackCue
from verification.geo.analyzer import GeoAnalyzer
from verification.geo.config import GeoConfig
from verification.pipeline.analyzer import Analyzer
from verification.runtime import ModelRegistry
from verification.scene.analyzer import BackgroundAnalyzer
from verification.scene.config import SceneSettings
from verification.types import Check
from verification.voice.analyzer import VoiceAnalyzer
from verification.voice.lipsync_cue import LipSyncCueFactory

# Face cues riding on the face stage's one mesh per frame (verification.face.cues).
FACE_CUES = (ChallengeCue.factory, PresentationAttackCue.factory)
FACE_CUE_CHECKS = (Check.FACE_LIVENESS,)


def default_analyzers(registry: ModelRegistry, geo: GeoConfig | None = None,
                      scene: SceneSettings | None = None) -> list[Analyzer]:
    """``geo``: the geo stage's databases and data dir (default: ``VERIFICATION_*`` variables).
    ``scene``: background-check settings (default: ``VERIFICATION_SCENE_*``; the cross-interview
    fingerprint index is off unless ``VERIFICATION_SCENE_INDEX`` names a directory)."""
    # The expression cue (micro-expression check) is advisory: cues for reviewers, never a gate.
    # Lip-speech sync and the digit challenge read the mouth from the same mesh, plus audio.
    face_cues = (*FACE_CUES, ExpressionCue.factory(registry), LipSyncCueFactory(registry))
    face_checks = (*FACE_CUE_CHECKS, Check.MICRO_EXPRESSION, Check.LIP_SYNC)
    return [FaceAnalyzer(registry, cues=face_cues, cue_checks=face_checks),
            VoiceAnalyzer(registry), GeoAnalyzer(geo),
            BackgroundAnalyzer(registry, scene)]
