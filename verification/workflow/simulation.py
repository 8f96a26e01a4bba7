"""A simulated applicant that answers the engine's prompts the way a cooperative person does.

Why: the interview's length is decided by the script (timeouts, pauses, windows) and by how
fast people react; the engine is pure, so a whole interview can be run in simulated time to
check that a cooperative applicant finishes within the target (about 90 s), and tests can
script uncooperative behaviour (silence, declines, drops) against the same engine.

Reaction times are deliberately on the slow side of normal: reading a prompt at 12 characters
a second, 1 s to start speaking, 5 s answers, the VAD closing a segment 0.4 s after speech.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from verification.workflow.engine import EngineState, InterviewEngine, Transition
from verification.workflow.events import (
    ChallengeResult,
    DeviceReport,
    DigitsResult,
    Effect,
    Event,
    FaceQuality,
    Finished,
    GeoReport,
    Joined,
    Prompt,
    Speech,
    SpeechOnset,
    Tap,
    Tick,
)

VAD_HANGOVER_S = 0.4
LIVE_PASS_S = 1.6  # prompt -> reaction -> movement past the threshold -> frame analysed
LIVE_DIGITS_S = 1.8  # window end -> video and audio margins of the lip-sync judge -> verdict
TICK_S = 0.1


@dataclass
class SimulatedRun:
    state: EngineState
    effects: list[tuple[float, Effect]] = field(default_factory=list)
    finished: Finished | None = None
    t0: float = 0.0

    @property
    def duration_s(self) -> float | None:
        return None if self.finished is None else self.finished.at - self.t0

    def prompts(self) -> list[Prompt]:
        return [e for _, e in self.effects if isinstance(e, Prompt)]

    def of_type(self, kind: type) -> list:
        return [e for _, e in self.effects if isinstance(e, kind)]


Reaction = Callable[[Prompt, float], list[tuple[float, Event]]]


def cooperative(prompt: Prompt, at: float) -> list[tuple[float, Event]]:
    """What a cooperative applicant does after a prompt shown at clock ``at`` (media time =
    clock - t0 is applied by :class:`Simulator`)."""
    read = min(6.0, max(1.0, len(prompt.text.get("zh-CN", "")) / 12.0))
    out: list[tuple[float, Event]] = []
    if prompt.input == "permission":
        out.append((at + 2.0, GeoReport(at + 2.0, granted=True, accuracy_m=25.0)))
    elif prompt.input == "tap_speak":
        tap = at + read
        out.append((tap, Tap(tap, prompt.step_id, "agree")))
        out += _speech(tap + 0.3, 1.2)
    elif prompt.input == "look":
        out += [(at + 0.8 + 0.5 * k, FaceQuality(at + 0.8 + 0.5 * k, True)) for k in range(8)]
    elif prompt.input == "action" and "challenge" in prompt.data:
        # the live verifier reports a pass as soon as the action is seen
        done = at + LIVE_PASS_S
        out.append((done, ChallengeResult(done, prompt.data["challenge"], True, 1.0)))
    elif prompt.input == "speak" and "digits" in prompt.data:
        out += _speech(at + 1.0, 0.55 * len(prompt.data["digits"]))
        # the voice stage judges the reading once its window has passed
        judged = at + (prompt.seconds or 0.0) + LIVE_DIGITS_S
        out.append((judged, DigitsResult(judged, prompt.data["prompt_id"], True)))
    elif prompt.input == "speak" and "question" in prompt.data:
        out += _speech(at + 1.5, 2.5) + _speech(at + 4.3, 2.5)
    return out


def _speech(start: float, duration: float) -> list[tuple[float, Event]]:
    end = start + duration
    # Media times are filled in by the simulator (it knows t0); here clock == media + t0.
    return [(start + 0.2, SpeechOnset(start + 0.2, start)),
            (end + VAD_HANGOVER_S, Speech(end + VAD_HANGOVER_S, start, end))]


class Simulator:
    """Runs an engine against a reaction function in simulated time."""

    def __init__(self, engine: InterviewEngine, reaction: Reaction = cooperative,
                 t0: float = 1_000_000.0) -> None:
        self.engine = engine
        self.reaction = reaction
        self.t0 = t0
        self._queue: list[tuple[float, int, Event]] = []
        self._order = itertools.count()

    def schedule(self, at: float, event: Event) -> None:
        heapq.heappush(self._queue, (at, next(self._order), event))

    def _media(self, event: Event) -> Event:
        """Give the event its media time (and speech segments media-time bounds)."""
        fields = dict(event.__dict__)
        fields["media_t"] = event.at - self.t0
        if isinstance(event, Speech | SpeechOnset):
            fields["start"] = event.start - self.t0
        if isinstance(event, Speech):
            fields["end"] = event.end - self.t0
        return type(event)(**fields)

    def _ticks(self, until: float) -> Iterator[float]:
        t = self.t0
        while t <= until:
            yield t
            t = round(t + TICK_S, 6)

    def run(self, limit_s: float = 600.0, state: EngineState | None = None,
            join: bool = True) -> SimulatedRun:
        run = SimulatedRun(state or EngineState(), t0=self.t0)
        if join:
            self.schedule(self.t0, Joined(self.t0))
            self.schedule(self.t0 + 1.0, DeviceReport(self.t0 + 1.0, True, True, "good"))
        for tick in self._ticks(self.t0 + limit_s):
            while self._queue and self._queue[0][0] <= tick:
                _, _, event = heapq.heappop(self._queue)
                self._apply(run, event)
            self._apply(run, Tick(tick))
            if run.finished is not None:
                break
        return run

    def _apply(self, run: SimulatedRun, event: Event) -> None:
        if run.finished is not None:
            return
        event = self._media(event)
        transition: Transition = self.engine.handle(run.state, event)
        run.state = transition.state
        for effect in transition.effects:
            run.effects.append((event.at, effect))
            if isinstance(effect, Prompt):
                for at, reaction in self.reaction(effect, event.at):
                    self.schedule(at, reaction)
            elif isinstance(effect, Finished):
                run.finished = effect
