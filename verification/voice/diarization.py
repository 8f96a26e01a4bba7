"""Who spoke when: clustering speech-window embeddings into voices, to find a second voice.

Why clustering rather than comparing each window to the first minute: the applicant's voice is
not known in advance (no enrolment file in a first interview), a coach may speak early, and one
1.6 s window is noisy. Average-linkage agglomerative clustering merges windows while the mean
cosine between two groups stays above ``MERGE_THRESHOLD``; a group is a *voice* only when it
holds enough speech (a stray window of a cough or of overlapped speech is not a person).

Calibration (``benchmarks/eval_speaker.py`` prints these numbers): on six LibriSpeech speakers
(60-90 s each, 61-90 windows) clustering at 0.70 forms no second group with 3.2 s of speech
that is not a stray group of the speaker himself (at 0.72 one speaker already splits in two),
while the two same-room speakers of ``two_speakers/sample.wav`` split into groups that match
the RTTM turns window for window. Their voices stay close in GE2E space, though: the minority
voice's windows fit the main voiceprint at about 0.78, as closely as a stray group of one
speaker (0.77-0.81), whereas different speakers recorded apart fit at 0.68 at most. Hence two
tiers, decided in :mod:`verification.voice.analyzer`:

* fit below ``STRONG_SECOND_VOICE_FIT``: clearly another person (hard evidence), unless the
  noise around the two voices differs (a new room or microphone moves GE2E as much as a new
  speaker does);
* otherwise a group holding a large share of the speech is a *possible* second voice (a review
  reason with its times), never a hard gate.

Two voices are told apart as a *second voice* (interleaved: someone coaching) or a *voice
change* (one voice, then another) by how their time spans overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from verification.types import TimeWindow
from verification.voice.windows import SpeechWindow, mean_voiceprint

MERGE_THRESHOLD = 0.70
# A voice needs this much speech (four windows at the 0.8 s hop).
MIN_VOICE_SPEECH_S = 3.2
# Mean cosine of a voice's windows to the main voiceprint below which it is clearly someone else.
STRONG_SECOND_VOICE_FIT = 0.72
# Clustering cost is cubic in windows; beyond this, windows are subsampled evenly in time.
MAX_WINDOWS = 400
# Spans of one voice closer than this are reported as one span.
_SPAN_JOIN_S = 1.0


@dataclass(frozen=True, eq=False)
class Voice:
    """One cluster of speech windows."""

    windows: tuple[SpeechWindow, ...]
    voiceprint: np.ndarray  # unit-length mean embedding
    speech_s: float
    spans: tuple[TimeWindow, ...]

    @property
    def start(self) -> float:
        return self.spans[0].start

    @property
    def end(self) -> float:
        return self.spans[-1].end


@dataclass(frozen=True)
class Diarization:
    """The voices heard, main (most speech, or the one matching a reference) first."""

    voices: tuple[Voice, ...]
    others_fit: tuple[float, ...]  # per other voice: mean cosine of its windows to the main

    @property
    def main(self) -> Voice | None:
        return self.voices[0] if self.voices else None

    def other_voices(self) -> list[tuple[Voice, float]]:
        """Voices besides the main one with enough speech to be a person, with their fit."""
        return [(v, f) for v, f in zip(self.voices[1:], self.others_fit, strict=True)
                if v.speech_s >= MIN_VOICE_SPEECH_S]


def _spans(windows: Sequence[SpeechWindow]) -> tuple[TimeWindow, ...]:
    spans: list[list[float]] = []
    for w in sorted(windows, key=lambda w: w.start):
        if spans and w.start <= spans[-1][1] + _SPAN_JOIN_S:
            spans[-1][1] = max(spans[-1][1], w.end)
        else:
            spans.append([w.start, w.end])
    return tuple(TimeWindow(a, b) for a, b in spans)


def _speech_seconds(indices: Sequence[int], windows: Sequence[SpeechWindow],
                    hop_s: float) -> float:
    """Speech covered by a voice's windows (``indices`` into the time-ordered ``windows``):
    one hop per window, plus a window's tail where the next window belongs to someone else."""
    chosen = set(indices)
    total = 0.0
    for i in indices:
        total += hop_s
        if i + 1 not in chosen:
            total += max(0.0, windows[i].speech_s - hop_s)
    return total


def cluster_windows(vectors: np.ndarray, merge_threshold: float = MERGE_THRESHOLD) -> np.ndarray:
    """Average-linkage agglomerative clustering on cosine similarity; returns a label per row."""
    n = len(vectors)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    x = np.asarray(vectors, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sim = x @ x.T
    np.fill_diagonal(sim, -np.inf)
    sizes = np.ones(n)
    active = np.ones(n, dtype=bool)
    members = [[i] for i in range(n)]
    while active.sum() > 1:
        i, j = np.unravel_index(np.argmax(sim), sim.shape)
        if sim[i, j] < merge_threshold:
            break
        # Lance-Williams update for average linkage: size-weighted mean of the two rows.
        merged = (sizes[i] * sim[i] + sizes[j] * sim[j]) / (sizes[i] + sizes[j])
        sim[i, :] = merged
        sim[:, i] = merged
        sim[i, i] = -np.inf
        sim[j, :] = -np.inf
        sim[:, j] = -np.inf
        sizes[i] += sizes[j]
        active[j] = False
        members[i].extend(members[j])
        members[j] = []
    labels = np.empty(n, dtype=np.int64)
    for label, idx in enumerate(i for i in range(n) if active[i]):
        labels[members[idx]] = label
    return labels


def diarize(windows: Sequence[SpeechWindow], hop_s: float,
            reference: np.ndarray | None = None,
            merge_threshold: float = MERGE_THRESHOLD) -> Diarization:
    """Cluster ``windows`` into voices; the main voice is the one closest to ``reference``
    (the applicant's lip-synced or enrolled voiceprint) when given, else the one with most speech.
    """
    windows = sorted(windows, key=lambda w: w.start)
    if len(windows) > MAX_WINDOWS:
        keep = np.linspace(0, len(windows) - 1, MAX_WINDOWS).round().astype(int)
        step = len(windows) / MAX_WINDOWS
        windows = [windows[i] for i in keep]
        hop_s *= step
    if not windows:
        return Diarization((), ())
    labels = cluster_windows(np.stack([w.vector for w in windows]), merge_threshold)
    voices = []
    for label in np.unique(labels):
        indices = np.flatnonzero(labels == label).tolist()
        group = tuple(windows[i] for i in indices)
        voices.append(Voice(group, mean_voiceprint(list(group)),
                            _speech_seconds(indices, windows, hop_s), _spans(group)))
    if reference is not None:
        ref = np.asarray(reference, dtype=np.float64)
        voices.sort(key=lambda v: (-(float(v.voiceprint @ ref)), -v.speech_s))
    else:
        voices.sort(key=lambda v: -v.speech_s)
    main = voices[0].voiceprint.astype(np.float64)
    fits = tuple(float(np.mean([w.vector.astype(np.float64) @ main for w in v.windows]))
                 for v in voices[1:])
    return Diarization(tuple(voices), fits)


def interleaved(a: Voice, b: Voice) -> bool:
    """True when the two voices alternate in time (a conversation), False when one simply
    follows the other (a change of speaker)."""
    return not (a.end <= b.start + _SPAN_JOIN_S or b.end <= a.start + _SPAN_JOIN_S)
