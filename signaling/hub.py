"""The process-wide interview hub: admission, the live interviews, and their peers.

Route handlers call one method here each. The hub owns what is shared — analyzers (loaded
once), the inference executor, the load measurements — and the map of running interviews. It
never holds business state of its own: records live in the InterviewService.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from signaling.analysis_rate import AnalysisRateController, CostSample, RatePolicy
from signaling.errors import ServerBusyError, UnknownPeerError
from signaling.ice import browser_ice_servers, rtc_configuration, use_loopback_candidates
from signaling.instrument import AnalysisCounters
from signaling.live import HubContext, LiveInterview
from signaling.liveness_limit import LivenessFailureLimit
from signaling.load import (
    WARMUP_S,
    AdmissionController,
    CpuMeter,
    LatencyTracker,
    LoadSnapshot,
    LoopLagMonitor,
)
from signaling.peer import InterviewPeer
from signaling.sdp import validate_offer
from signaling.settings import ServerSettings
from verification.analyzers import default_analyzers
from verification.geo.config import GeoConfig
from verification.pipeline.analyzer import Analyzer, SessionContext
from verification.protect.media import MediaVault, VaultTemplateSealer
from verification.runtime import InferenceExecutor, ModelRegistry
from verification.scene.config import SceneSettings
from verification.workflow.interviews import InterviewRecord, InterviewService

log = logging.getLogger(__name__)

EXPIRY_SWEEP_S = 30.0  # how often unused join links are marked expired (a scan of open links)
RATE_LATENCY_WINDOW_S = 3.0  # the analysis-rate controller's view of the latency


@dataclass(frozen=True)
class OfferResult:
    peer_id: str
    resume_key: str
    sdp: str
    interview_id: str


def split_by_input(analyzers: list[Analyzer],
                   executor: InferenceExecutor) -> tuple[list[Analyzer], list[Analyzer]]:
    """(analyzers that take media, analyzers that only read the session context).

    A probe stream (never started) tells which is which; context-only analyzers (geo) run at
    the end of a live interview, when the GPS fix and time zone have arrived.
    """
    media, context_only = [], []
    for analyzer in analyzers:
        probe = analyzer.open_stream(SessionContext("probe"), executor)
        (media if probe.wants_video or probe.wants_audio else context_only).append(analyzer)
    return media, context_only


class InterviewHub:
    def __init__(self, settings: ServerSettings, service: InterviewService,
                 registry: ModelRegistry, flow_factory: Any | None = None,
                 media: MediaVault | None = None) -> None:
        self.settings = settings
        self.media = media  # None: recordings stay plaintext files (library use, old tests)
        self.service = service
        self.registry = registry
        self.flow_factory = flow_factory  # scripted interview flow (signaling.interview_flow)
        self.loop_lag = LoopLagMonitor()
        self.cpu = CpuMeter()
        self.admission = AdmissionController(
            max_sessions=settings.max_sessions, latency_budget_ms=settings.latency_budget_ms,
            cpu_threshold=settings.cpu_threshold,
            admission_interval_s=settings.admission_interval_s,
            loop_lag_limit_ms=settings.loop_lag_limit_ms)
        self.rates = AnalysisRateController(RatePolicy(
            full_fps=settings.analysis_fps,
            floor_fps=min(settings.analysis_floor_fps, settings.analysis_fps),
            cpu_budget=settings.analysis_cpu_budget,
            cores=self.cpu.cores, latency_budget_ms=settings.latency_budget_ms,
            lip_sync_fps=settings.analysis_lip_sync_fps)) \
            if settings.rate_control else None
        self.admission.rates = self.rates
        self._last_expiry = 0.0  # monotonic time of the last join-link expiry sweep
        self._cost_mark = (time.monotonic(), 0.0, 0)  # (when, frame CPU s, frames) last sampled
        self.video_latency = LatencyTracker()
        self.audio_latency = LatencyTracker()
        self.counters = AnalysisCounters()
        self._live: dict[str, LiveInterview] = {}
        self._peers: dict[str, tuple[LiveInterview, InterviewPeer]] = {}
        self._ctx: HubContext | None = None
        self._sampler: asyncio.Task[None] | None = None
        self._admit_lock = asyncio.Lock()
        self.analyzer_error: str | None = None
        self.liveness_limit = LivenessFailureLimit(settings.liveness_failures_per_applicant,
                                                   settings.liveness_failures_per_device,
                                                   settings.liveness_failure_window_s)

    async def start(self) -> None:
        use_loopback_candidates(self.settings.ice_loopback)
        executor = InferenceExecutor(self.registry.budget)
        analyzers, detector = [], None
        try:
            # Location history and the background fingerprint index live in the server's
            # data dir (cross-interview checks: clusters, impossible travel, fraud rings).
            data_dir = self.settings.data_dir
            analyzers = await asyncio.to_thread(
                default_analyzers, self.registry,
                GeoConfig.from_env(default_data_dir=data_dir),
                self._scene_settings(data_dir))
            detector = await asyncio.to_thread(self.registry.adapter, "face_detector")
        except Exception as err:  # interviews still run; every check reports "not checked"
            self.analyzer_error = f"{type(err).__name__}: {err}"
            log.error("analyzers unavailable: %s", self.analyzer_error)
        media, context_only = split_by_input(analyzers, executor)
        self._ctx = HubContext(self.settings, self.service, media, context_only, executor,
                               detector,
                               rtc_configuration(self.settings), self.video_latency,
                               self.audio_latency, self.counters, self.flow_factory,
                               self.media, self.rates)
        self.loop_lag.start()
        self._sampler = asyncio.create_task(self._sample_load(), name="load-sampler")

    def _scene_settings(self, data_dir: Path) -> SceneSettings:
        """The background index keeps applicants' face descriptors: encrypted in the vault."""
        scene = replace(SceneSettings.from_env(data_dir=data_dir),
                        sample_interval_s=self.settings.scene_interval_s)  # CPU per session
        if self.media is not None:
            scene = replace(scene, template_sealer=VaultTemplateSealer(self.media))
        return scene

    async def _sample_load(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.cpu.sample()
            self.admission.observe(self.snapshot())
            self._plan_rates()
            now = time.monotonic()
            if now - self._last_expiry >= EXPIRY_SWEEP_S:
                # a scan of the open join links: a database read, never on the event loop
                self._last_expiry = now
                await asyncio.to_thread(self.service.expire_stale)

    def _plan_rates(self) -> None:
        """Feed the analysis-rate controller one second of measured cost, then re-plan."""
        if self.rates is None:
            return
        now, frame_cpu, frames = time.monotonic(), self.counters.frame_cpu_s, \
            self.counters.frames_handed_in()
        then, frame_cpu0, frames0 = self._cost_mark
        self._cost_mark = (now, frame_cpu, frames)
        self.rates.observe(CostSample(now - then, len(self._live), self.cpu.share,
                                      frame_cpu - frame_cpu0, frames - frames0))
        self.rates.plan(self.video_latency.recent_quantile(0.95, RATE_LATENCY_WINDOW_S),
                        self.audio_latency.recent_quantile(0.95, RATE_LATENCY_WINDOW_S))

    # -- sessions ------------------------------------------------------------------------------
    def create_session(self, reference: str | None, locale: str,
                       ttl_s: float | None) -> tuple[InterviewRecord, str, str]:
        record, token = self.service.create(ttl_s or self.settings.session_ttl_s, reference,
                                            locale)
        return record, token, f"{self.base_url}/join#{token}"

    @property
    def base_url(self) -> str:
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        return f"http://{self.settings.host}:{self.settings.port}"

    def session_info(self, token: str) -> dict[str, Any]:
        record = self.service.authenticate(token)
        live = self._live.get(record.id)
        return {"session": record.id, "locale": record.locale, "state": record.state.value,
                "resumable": live is not None,
                "ice_servers": browser_ice_servers(self.settings)}

    # -- signaling -----------------------------------------------------------------------------
    async def offer(self, token: str, sdp: str, resume_key: str | None,
                    peer_ip: str | None = None, forwarded_for: str | None = None) -> OfferResult:
        record = self.service.authenticate(token)  # strangers learn nothing about parsing
        summary = validate_offer(sdp)
        assert self._ctx is not None, "hub not started"
        async with self._admit_lock:  # one admission decision at a time
            live = self._live.get(record.id)
            if live is None:
                self.liveness_limit.check(record.reference, peer_ip)
                decision = self.admission.decide(self.snapshot())
                if not self.settings.admission_control and len(self._live) < \
                        self.settings.max_sessions:
                    decision = replace(decision, admit=True)  # benchmarks measure overload
                if not decision.admit:
                    log.warning("refused interview %s: %s", record.id, decision.reason)
                    raise ServerBusyError(f"the server is busy ({decision.reason}); "
                                          "please retry shortly", decision.retry_after_s)
                live = LiveInterview(record.id, record.locale, self._ctx, self._forget)
                self._live[record.id] = live
                await live.start()
        live.client_address(peer_ip, forwarded_for)
        old = live.peer
        try:
            peer, answer = await live.connect(sdp, summary, resume_key)
        except BaseException:
            if live.answered == 0 and live.peer is None:
                await live.discard()  # nothing started: the link stays usable
            raise
        if old is not None:
            self._peers.pop(old.id, None)
        self._peers[peer.id] = (live, peer)
        return OfferResult(peer.id, peer.resume_key, answer, record.id)

    def _peer(self, peer_id: str, resume_key: str) -> tuple[LiveInterview, InterviewPeer]:
        entry = self._peers.get(peer_id)
        if entry is None or entry[1].resume_key != resume_key or entry[1].closed:
            raise UnknownPeerError("unknown or closed connection")
        return entry

    async def add_candidates(self, peer_id: str, resume_key: str,
                             candidates: list[dict[str, Any]]) -> None:
        _, peer = self._peer(peer_id, resume_key)
        for item in candidates:
            await peer.add_candidate(item.get("candidate"), item.get("sdpMid"),
                                     item.get("sdpMLineIndex"))

    async def hangup(self, peer_id: str, resume_key: str) -> None:
        live, peer = self._peer(peer_id, resume_key)
        self._peers.pop(peer_id, None)
        await live.hangup(peer)

    def _forget(self, live: LiveInterview) -> None:
        self._live.pop(live.id, None)
        try:
            record = self.service.get(live.id)
            if self.liveness_limit.record(record.reference, live.geo_input.get("peer_ip"),
                                          record.verdict):
                log.warning("interview %s: liveness contradicted (counted against the "
                            "applicant and the device)", live.id)
        except Exception:
            log.exception("interview %s: liveness limit bookkeeping failed", live.id)
        for peer_id in [p for p, (owner, _) in self._peers.items() if owner is live]:
            self._peers.pop(peer_id, None)

    def live(self, interview_id: str) -> LiveInterview | None:
        return self._live.get(interview_id)

    def running(self) -> list[LiveInterview]:
        """The interviews in progress (the reviewer console's live list)."""
        return list(self._live.values())

    async def finish(self, interview_id: str, reason: str) -> None:
        live = self._live.get(interview_id)
        if live is not None:
            await live.finish(reason)

    # -- load ----------------------------------------------------------------------------------
    def snapshot(self) -> LoadSnapshot:
        now = time.monotonic()
        sessions = len(self._live)
        warming = sum(1 for live in self._live.values() if now - live.started < WARMUP_S)
        lag = self.loop_lag.lag_ms.quantile(0.95)
        return LoadSnapshot(sessions=sessions, warming=warming, cpu_share=self.cpu.share,
                            cpu_per_session=self.admission.cpu_per_session,
                            loop_lag_p95_ms=lag,
                            latency_p50_ms=self.video_latency.quantile(0.5),
                            latency_p95_ms=self.video_latency.quantile(0.95),
                            rss_bytes=self.cpu.rss_bytes())

    def metrics(self) -> dict[str, Any]:
        drops = sum(s.stats.video.dropped for live in self._live.values()
                    for a in live.analyzers for s in a.streams)
        return {"load": self.snapshot().to_json(),
                "cores": self.cpu.cores,
                "loop_lag_max_ms": round(self.loop_lag.max_ms, 2),
                "audio_latency_p95_ms": self.audio_latency.quantile(0.95),
                "analysed": self.counters.snapshot(),
                "analyzer_frame_drops": drops,
                "analyzer_error": self.analyzer_error,
                "analysis_rate": self.rates.to_json() if self.rates is not None else None,
                "interviews": {i: live.live_stats() for i, live in self._live.items()}}

    # -- shutdown ------------------------------------------------------------------------------
    async def shutdown(self) -> None:
        """Finish every running interview (closing peers, finalising recordings)."""
        lives = list(self._live.values())
        if lives:
            log.info("shutting down: finishing %d interview(s)", len(lives))
            await asyncio.gather(*(live.finish("server_shutdown") for live in lives),
                                 return_exceptions=True)
        if self._sampler is not None:
            self._sampler.cancel()
            await asyncio.gather(self._sampler, return_exceptions=True)
        await self.loop_lag.stop()
        if self._ctx is not None:  # the workers finish what they run (no native call cut off)
            await asyncio.to_thread(self._ctx.executor.shutdown, True)
