"""Glue between one live interview (``signaling.live.LiveInterview``) and its scripted flow.

The live interview owns connections, media, guidance and bandwidth; the scripted flow
(:class:`verification.workflow.driver.InterviewDriver`) owns what the applicant is asked, when,
and what counts as done. This module translates between the two with a handful of hooks, so
the live interview's code changes by a few lines: connected / lost, a page message, a tick, a
guidance code, and the end (verdict from the persisted evidence and the product's policy).

Prompts reach the page in order: a message the data channel could not take yet (it opens after
the media on a slow link) is kept, bounded, and sent first on the next tick. The challenge
analyzers' live verdicts reach the script through the driver's verdict box, which the driver
puts into the session context the analyzers are opened with.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from signaling.control import Geo, GeoDenied, Hello, PageMessage, Tap
from verification.pipeline.analyzer import Analyzer, SessionContext
from verification.runtime import ModelRegistry
from verification.types import Evidence
from verification.workflow.driver import InterviewDriver, UnscriptedSessionError
from verification.workflow.events import DeviceReport, FaceQuality, GeoReport
from verification.workflow.events import Tap as TapEvent
from verification.workflow.loan import LoanWorkflow
from verification.workflow.turns import SpeechTurns

log = logging.getLogger(__name__)

FlowFactory = Callable[[str], Awaitable["ScriptedFlow | None"]]
Send = Callable[[dict[str, Any]], Any]
MAX_UNDELIVERED = 32  # prompts and marks of a few steps; older ones are superseded anyway


class ScriptedFlow:
    def __init__(self, driver: InterviewDriver, turns: Analyzer) -> None:
        self.driver = driver
        self.turns = turns
        self._device_reported = False
        self._resend = False
        self._user_agent: str | None = None
        self._peer_ip: str | None = None
        self._undelivered: deque[dict[str, Any]] = deque(maxlen=MAX_UNDELIVERED)
        self._delivered = False  # has this connection's page received anything from us?

    @classmethod
    async def open(cls, workflow: LoanWorkflow, registry: ModelRegistry, session_id: str,
                   resume_window_s: float) -> ScriptedFlow:
        driver = await InterviewDriver.open(workflow, session_id, resume_window_s)
        turns = SpeechTurns(registry, lambda _id: driver.speech_sink)
        return cls(driver, turns)

    # -- what the live interview asks ----------------------------------------------------------
    @property
    def context(self) -> SessionContext:
        return self.driver.context

    @property
    def analyzers(self) -> list[Analyzer]:
        return [self.turns]

    def geo_input(self) -> dict[str, Any]:
        declared = (self.context.geo or {}).get("declared") or {}
        coordinates = declared.get("coordinates") or {}
        out = {"address": declared.get("address"), "type": declared.get("type"),
               "lat": coordinates.get("lat"), "lon": coordinates.get("lon")}
        return {"declared": {k: v for k, v in out.items() if v is not None}} if declared else {}

    def client(self, peer_ip: str | None) -> None:
        self._peer_ip = peer_ip or self._peer_ip
        self.driver.set_device(self._peer_ip, self._user_agent)

    def _deliver(self, send: Send, messages: Sequence[dict[str, Any]]) -> None:
        """Send in order; what the channel cannot take yet waits for the next tick."""
        queue = [*self._undelivered, *messages]
        self._undelivered.clear()
        for i, message in enumerate(queue):
            if send(message) is False:
                self._undelivered.extend(queue[i:])
                return
            self._delivered = True

    async def connected(self, send: Send, media_t: float) -> None:
        self._device_reported = False
        self._undelivered.clear()  # a new connection: the current prompt is sent afresh
        self._delivered = False
        out = await self.driver.joined(media_t)
        self._deliver(send, out.messages or self.driver.resend())

    async def lost(self, media_t: float) -> None:
        await self.driver.disconnected(media_t)

    def on_message(self, message: PageMessage, media_t: float) -> None:
        now = self.driver.workflow.clock()
        if isinstance(message, Hello):
            self._user_agent = message.user_agent or self._user_agent
            self.driver.set_device(self._peer_ip, self._user_agent)
            self._resend = True  # a (new) page is listening: show it the current prompt
        elif isinstance(message, Geo):
            self.driver.post(GeoReport(now, True, message.accuracy_m, media_t))
        elif isinstance(message, GeoDenied):
            self.driver.post(GeoReport(now, False, None, media_t))
        elif isinstance(message, Tap):
            self.driver.post(TapEvent(now, message.step, message.choice, media_t))

    def guidance(self, code: str, media_t: float) -> None:
        """The guidance monitor's verdict on the newest frame is the live quality gate."""
        self.driver.post(FaceQuality(self.driver.workflow.clock(), code == "ok", (code,),
                                     media_t))

    async def tick(self, send: Callable[[dict[str, Any]], Any], media_t: float,
                   video_age_s: float | None, audio_age_s: float | None,
                   network: str, evidence: Sequence[Evidence]) -> str | None:
        """One control-loop step; returns a finish reason when the script is over."""
        if not self._device_reported and video_age_s is not None and audio_age_s is not None:
            self._device_reported = True  # frames and audio from this connection arrived
            self.driver.post(DeviceReport(self.driver.workflow.clock(), True, True, network,
                                          media_t))
        out = await self.driver.step(media_t)
        if self._resend and not out.messages and not self._undelivered \
                and not self._delivered:
            out.messages = self.driver.resend()
        self._resend = False
        self._deliver(send, out.messages)
        await self.driver.flush_evidence(evidence)
        return out.finished

    async def conclude(self, reason: str, evidence: Sequence[Evidence]) -> dict[str, Any] | None:
        """Returns the verdict (for the edge's record); the applicant is never shown it."""
        result = await self.driver.conclude(reason, evidence)
        if result is None:
            return None
        view = await _view(self.driver)
        return view.get("verdict")

    async def suspend(self) -> None:
        await self.driver.suspend()


async def _view(driver: InterviewDriver) -> dict[str, Any]:
    import asyncio

    return await asyncio.to_thread(driver.workflow.session_view, driver.session_id)


def flow_factory(workflow: LoanWorkflow, registry: ModelRegistry,
                 resume_window_s: float) -> FlowFactory:
    async def open_flow(session_id: str) -> ScriptedFlow | None:
        try:
            return await ScriptedFlow.open(workflow, registry, session_id, resume_window_s)
        except UnscriptedSessionError:
            return None
        except Exception:
            log.exception("interview %s: no scripted flow (fixed prompts are used)", session_id)
            return None
    return open_flow
