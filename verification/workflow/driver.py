"""The live side of one interview: feeds the engine from the edge, persists every transition.

Why a driver between the WebRTC edge and the engine: the engine is pure; the edge knows
connections, page messages, media time and the VAD. The driver turns those into engine events
(in order, on the event loop), persists each transition in a worker thread before its prompts
go out (so a restart resumes exactly what the applicant last saw), keeps the prompt script the
analyzers read, flushes analyzer evidence into the timeline as it arrives, and at the end
concludes the verdict with the product's policy.

Thread safety: :meth:`post` may be called from any thread (the VAD runs in the inference
executor); everything else runs on the event loop. The challenge analyzers (face stage, voice
stage, in the executor) put their live per-prompt verdicts into :attr:`InterviewDriver.verdicts`
(a bounded, locked box); each :meth:`step` drains it, so the step that issued a challenge
learns within a control tick of the verdict whether to move on or ask a new one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from verification.errors import VerificationError
from verification.pipeline.analyzer import SessionContext
from verification.pipeline.live_verdicts import LiveVerdictBox
from verification.protect.media import MediaVault, parse_vault_ref
from verification.types import Evidence
from verification.workflow import repository as repo
from verification.workflow.conclude import Concluded
from verification.workflow.engine import FINISHED, EngineState, InterviewEngine, Transition
from verification.workflow.events import (
    Cancel,
    Disconnected,
    Event,
    Finished,
    Joined,
    Prompt,
    ScriptMark,
    Speech,
    SpeechOnset,
    Tick,
)
from verification.workflow.live_results import verdict_events
from verification.workflow.loan import LoanWorkflow
from verification.workflow.persist import (
    device_key,
    failure_subjects,
    merge_marks,
    save_transition,
)

log = logging.getLogger(__name__)

INBOX_SIZE = 512
EVIDENCE_BATCH = 500


class UnscriptedSessionError(VerificationError):
    """A session made outside the loan-system API (operator CLI, admin route): it runs the
    edge's fixed prompt sequence, not a product script."""

    code = "session_unscripted"


def prompt_values(terms: dict[str, Any] | None) -> dict[str, str]:
    """Loan terms as the prompts show them."""
    if not terms:
        return {k: "-" for k in ("amount", "currency", "annual_rate_pct", "term_months", "fees")}
    fees = terms.get("fees", 0)
    return {"amount": f"{float(terms['amount']):,.2f}".rstrip("0").rstrip("."),
            "currency": str(terms.get("currency", "CNY")),
            "annual_rate_pct": f"{float(terms['annual_rate_pct']):g}",
            "term_months": str(terms["term_months"]),
            "fees": f"{float(fees):,.2f}" if isinstance(fees, int | float) else str(fees)}


@dataclass
class StepOutput:
    messages: list[dict[str, Any]] = field(default_factory=list)
    finished: str | None = None


class InterviewDriver:
    def __init__(self, workflow: LoanWorkflow, session_id: str, engine: InterviewEngine,
                 state: EngineState, script_steps: list[dict[str, Any]],
                 context: SessionContext, application_id: str | None,
                 verdicts: LiveVerdictBox | None = None) -> None:
        self.workflow = workflow
        self.session_id = session_id
        self.engine = engine
        self.state = state
        self.script_steps = script_steps  # the live list inside ``context.script["steps"]``
        self.context = context
        self.application_id = application_id
        self.device_key: str | None = None
        self._inbox: deque[Event] = deque(maxlen=INBOX_SIZE)
        self._inbox_lock = threading.Lock()
        self._lock = asyncio.Lock()
        self._flushed = 0
        self._steps = [s.id for s in engine.script.steps]
        self.last_prompt: Prompt | None = None
        self.verdicts = verdicts if verdicts is not None else LiveVerdictBox()

    # -- construction --------------------------------------------------------------------------
    @classmethod
    async def open(cls, workflow: LoanWorkflow, session_id: str,
                   resume_window_s: float) -> InterviewDriver:
        return await asyncio.to_thread(cls._load, workflow, session_id, resume_window_s)

    @classmethod
    def _load(cls, workflow: LoanWorkflow, session_id: str,
              resume_window_s: float) -> InterviewDriver:
        with workflow.sessions() as db:
            row = repo.get_session(db, session_id)
            if row is None:
                raise KeyError(session_id)
            if not row.script_version:
                raise UnscriptedSessionError(f"session {session_id} was made without a script")
            product = workflow.catalog.get(row.loan_product)
            state = EngineState.from_json(row.engine_state)
            steps = list((row.prompt_script or {}).get("steps", []))
            id_photo = _load_photo(workflow.media, row.id_photo_path)
            voiceprint = _load_voice(workflow.media, row.voiceprint_path)
            geo = {"declared": row.declared_business} if row.declared_business else {}
            application_id = row.application_id
            terms = row.loan_terms
        engine = InterviewEngine(product.script, values=prompt_values(terms),
                                 resume_window_s=resume_window_s)
        # The analyzers read the prompt script at the end of the interview; they get this
        # very list, which grows as prompts are issued (SessionContext copies only the top).
        verdicts = LiveVerdictBox()
        context = SessionContext(session_id, id_photo=id_photo, voiceprint=voiceprint,
                                 geo=geo, script={"steps": steps}, live_verdicts=verdicts)
        return cls(workflow, session_id, engine, state, steps, context, application_id,
                   verdicts)

    # -- inputs --------------------------------------------------------------------------------
    def post(self, event: Event) -> None:
        """Queue an event from any thread (oldest dropped if the loop falls far behind)."""
        with self._inbox_lock:
            self._inbox.append(event)

    def speech_sink(self, kind: str, start: float, end: float | None) -> None:
        """Called by the speech-turn stream (executor thread)."""
        now = self.workflow.clock()
        if kind == "onset":
            self.post(SpeechOnset(now, start, media_t=start))
        elif end is not None:
            self.post(Speech(now, start, end, media_t=end))

    def set_device(self, peer_ip: str | None, user_agent: str | None) -> None:
        self.device_key = device_key(peer_ip, user_agent) or self.device_key

    @property
    def finished(self) -> bool:
        return self.state.status == FINISHED

    # -- engine steps --------------------------------------------------------------------------
    async def joined(self, media_t: float | None) -> StepOutput:
        now = self.workflow.clock()
        prior = await asyncio.to_thread(self._prior_failures, now)
        return await self._apply([Joined(now, media_t, tuple(prior))])

    async def disconnected(self, media_t: float | None) -> StepOutput:
        return await self._apply([Disconnected(self.workflow.clock(), media_t)])

    async def cancel(self, reason: str, media_t: float | None = None) -> StepOutput:
        return await self._apply([Cancel(self.workflow.clock(), reason, media_t)])

    async def step(self, media_t: float | None) -> StepOutput:
        """Deliver queued events, then a tick; returns the messages for the page."""
        with self._inbox_lock:
            events = list(self._inbox)
            self._inbox.clear()
        now = self.workflow.clock()
        judged = verdict_events(self.verdicts.drain(), self.script_steps, now)
        return await self._apply([*events, *judged, Tick(now, media_t)])

    async def _apply(self, events: Sequence[Event]) -> StepOutput:
        out = StepOutput()
        async with self._lock:
            for event in events:
                before = self.state
                transition = self.engine.handle(self.state, event)
                self.state = transition.state
                if transition.effects or transition.state.to_json() != before.to_json():
                    await asyncio.to_thread(self._save, transition)
                for effect in transition.effects:
                    if isinstance(effect, Prompt):
                        self.last_prompt = effect
                        out.messages.append(effect.to_message())
                    elif isinstance(effect, ScriptMark):
                        merged = merge_marks({"steps": list(self.script_steps)}, [effect])
                        self.script_steps[:] = merged["steps"]
                    elif isinstance(effect, Finished):
                        out.finished = effect.reason
        return out

    def _save(self, transition: Transition) -> None:
        now = self.workflow.clock()
        with self.workflow.sessions.begin() as db:
            save_transition(db, self.session_id, transition, now, self._steps)
            if self.device_key:
                row = repo.get_session(db, self.session_id)
                if row is not None and row.device_key != self.device_key:
                    row.device_key = self.device_key

    def _prior_failures(self, now: float) -> list[float]:
        budget = self.engine.script.budget
        subjects = failure_subjects(self.application_id, self.device_key)
        if not subjects:
            return []
        with self.workflow.sessions() as db:
            return repo.failure_times(db, subjects, now - budget.window_s)

    def resend(self) -> list[dict[str, Any]]:
        """The current prompt again (a new page after a reconnect)."""
        return [self.last_prompt.to_message()] if self.last_prompt else []

    # -- evidence and the verdict --------------------------------------------------------------
    async def flush_evidence(self, evidence: Sequence[Evidence]) -> None:
        """Persist analyzer evidence not yet stored (the session's list only grows)."""
        new = list(evidence[self._flushed:self._flushed + EVIDENCE_BATCH])
        if not new:
            return
        self._flushed += len(new)
        await asyncio.to_thread(self._store_evidence, new)

    def _store_evidence(self, items: list[Evidence]) -> None:
        with self.workflow.sessions.begin() as db:
            repo.append_evidence(db, self.session_id, items, self.workflow.clock())

    async def conclude(self, reason: str, evidence: Sequence[Evidence]) -> Concluded | None:
        """The interview is over: make sure the engine says so, store the remaining evidence,
        then write the verdict (with its outbox event) in one transaction."""
        if not self.finished:
            await self.cancel(reason)
        while self._flushed < len(evidence):
            await self.flush_evidence(evidence)
        return await asyncio.to_thread(self.workflow.conclude, self.session_id,
                                       self.state.finish_reason or reason)

    async def suspend(self) -> None:
        """The server is shutting down: the interview pauses (resumable after the restart)."""
        if not self.finished:
            await self.disconnected(None)


def _load_photo(media: MediaVault, ref: str | None) -> np.ndarray | None:
    """The ID photo, decrypted in memory (never written out in the clear)."""
    if not ref:
        return None
    from verification.video.images import decode_image, load_image

    try:
        key = parse_vault_ref(ref)
        if key is None:  # a session stored before encryption at rest
            return load_image(ref)
        return decode_image(media.store.get(key), "id_photo")
    except VerificationError as err:
        log.warning("ID photo unusable: %s", err)
        return None


def _load_voice(media: MediaVault, ref: str | None) -> np.ndarray | None:
    """The enrolment audio; FFmpeg needs a path, so it is decrypted into the spool briefly."""
    if not ref:
        return None
    from verification.voice.audio_io import read_audio_16k

    try:
        key = parse_vault_ref(ref)
        if key is None:
            return read_audio_16k(ref)
        with media.plaintext_object(key) as path:
            return read_audio_16k(path)
    except Exception as err:  # a bad enrolment file must not stop the interview
        log.warning("voiceprint unusable: %s", err)
        return None
