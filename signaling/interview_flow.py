"""Glue between one live interview (``signaling.live.LiveInterview``) and its scripted flow.

The live interview owns connections, media, guidance and bandwidth; the scripted flow
(:class:`verification.workflow.driver.InterviewDriver`) owns what the applicant is asked, when,
and what counts as done. This module translates between the two with a handful of hooks, so
the live interview's code changes by a few lines: connected / lost, a page message, a tick, a
guidance code, and the end (verdict from the persisted evidence and the product's policy).
"""

from __future__ import annotations

import logging
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


class ScriptedFlow:
    def __init__(self, driver: InterviewDriver, turns: Analyzer) -> None:
        self.driver = driver
        self.turns = turns
        self._device_reported = False
        self._resend = False
        self._user_agent: str | None = None
        self._peer_ip: str | None = None

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

    async def connected(self, send: Callable[[dict[str, Any]], Any], media_t: float) -> None:
        self._device_reported = False
        out = await self.driver.joined(media_t)
        for message in out.messages or self.driver.resend():
            send(message)

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
        if self._resend and not out.messages:
            out.messages = self.driver.resend()
        self._resend = False
        for message in out.messages:
            send(message)
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
