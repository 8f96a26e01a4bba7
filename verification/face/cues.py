"""The hook through which face-level cues (liveness challenges, presentation-attack cues, lip
sync, ...) consume the face stage's per-frame observations without running the mesh again.

Why: the mesh is the expensive part of the face stage (15-30 ms a frame). Every cue that
needs landmarks, pose, blinks or the mouth opening rides on the one
:class:`~verification.face.observation.FaceTracker` run by the ``face`` analyzer's stream.

How to add a cue:

1. write a class with the :class:`FaceCue` methods (a plain class; no base class needed);
2. give :class:`verification.face.analyzer.FaceAnalyzer` a factory for it
   (``FaceAnalyzer(registry, cues=[MyCue.factory, ...])`` in ``verification/analyzers.py``).
   A factory is called once per interview with the :class:`SessionContext` (ID photo, script)
   and returns a fresh cue: per-interview state lives in the cue object.

Call order inside one interview (all in the inference executor, one thread at a time, so a cue
needs no locking): ``observe`` for every analysed frame in media-time order (also frames without
a face: ``observation.face`` is False), ``observe_audio`` for each audio block when the cue sets
``wants_audio = True``, then ``summarize`` once at the end. Evidence returned by any of them
goes straight into the session's evidence. A cue that raises is logged and skipped for that
call; it never stops the face stage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

from verification.face.observation import FaceObservation
from verification.pipeline.analyzer import SessionContext
from verification.pipeline.ringbuffer import AudioRead
from verification.types import Evidence, VideoFrame


@runtime_checkable
class FaceCue(Protocol):
    """One per-interview consumer of the face observation time series."""

    #: A short name for logs and evidence ``model`` fields.
    name: str

    def observe(self, observation: FaceObservation, frame: VideoFrame) -> Iterable[Evidence]:
        """One analysed frame: the face stage's observation and the frame it was made on."""
        ...

    def summarize(self) -> Iterable[Evidence]:
        """End of the interview: whole-session evidence."""
        ...


class AudioFaceCue(FaceCue, Protocol):
    """A cue that also needs the audio (lip sync): set ``wants_audio = True``."""

    wants_audio: bool

    def observe_audio(self, audio: AudioRead) -> Iterable[Evidence]:
        """The next block of 16 kHz audio with the gaps inside it."""
        ...


FaceCueFactory = Callable[[SessionContext], FaceCue]
