"""The analyzers a session runs by default, built once per process from the model registry."""

from __future__ import annotations

from verification.face.presence import FacePresenceAnalyzer
from verification.pipeline.analyzer import Analyzer
from verification.runtime import ModelRegistry
from verification.voice.presence import SpeechPresenceAnalyzer


def default_analyzers(registry: ModelRegistry) -> list[Analyzer]:
    return [FacePresenceAnalyzer(registry), SpeechPresenceAnalyzer(registry)]
