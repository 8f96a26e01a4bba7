"""One running interview: its VerificationSession, recording, current peer and control loop.

An interview outlives its connections. The control loop (twice a second) advances the prompt
sequence on *connected* media time, sends guidance, runs the bandwidth policy (REMB clamp +
page command), and enforces the time limits: a peer that never sends media is closed after
``media_timeout_s``; an applicant gone for ``reconnect_grace_s`` ends the interview; the whole
interview ends after ``interview_max_s``. Finishing closes the peer, drains the analyzers into a
verdict, finalises the recording, and stores the outcome through the InterviewService. The
record's status changes on the way (connected, connection lost, prompt shown, location) are
written off the event loop, in order (:mod:`signaling.record_writer`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from signaling.analysis_rate import LIP_SYNC_STEP_TYPES, AnalysisRateController, focus_open
from signaling.bandwidth import PROFILES, BandwidthPolicy, ReceiveSample
from signaling.control import Bye, Geo, GeoDenied, Hello, PageMessage, SenderStats
from signaling.errors import AlreadyConnectedError
from signaling.guidance import FaceView, choose_guidance, look_at_face
from signaling.ingest import MediaClock
from signaling.instrument import AnalysisCounters, TimedAnalyzer
from signaling.load import LatencyTracker
from signaling.peer import InterviewPeer
from signaling.record_writer import RecordWriter
from signaling.recording import InterviewRecording, RecordingResult
from signaling.recording_vault import (
    seal_leftovers,
    seal_recording,
    seal_reference_frame,
    spool_dir,
)
from signaling.relay import LiveFeed
from signaling.sdp import AnswerShape, OfferSummary
from signaling.settings import ServerSettings
from verification.fusion.policy import DefaultPolicy
from verification.pipeline.analyzer import Analyzer, SessionContext
from verification.pipeline.session import SessionResult, VerificationSession
from verification.protect.media import MediaVault
from verification.runtime import InferenceExecutor
from verification.workflow.interviews import GeoFix, InterviewClosedError, InterviewService
from verification.workflow.prompts import DEFAULT_PROMPTS, PromptPosition, PromptSequencer

if TYPE_CHECKING:
    from signaling.interview_flow import ScriptedFlow

log = logging.getLogger(__name__)

TICK_S = 0.5
MEDIA_FLOWING_S = 2.0  # media younger than this counts as "connected" time for the prompts


@dataclass
class HubContext:
    """What every interview shares with the hub (built once per process)."""

    settings: ServerSettings
    service: InterviewService
    analyzers: Sequence[Analyzer]  # take media: run live
    context_analyzers: Sequence[Analyzer]  # take only the context (geo): run at the end
    executor: InferenceExecutor
    face_detector: Any | None
    configuration: Any
    video_latency: LatencyTracker
    audio_latency: LatencyTracker
    counters: AnalysisCounters
    flow_factory: Any | None = None  # session id -> ScriptedFlow | None (interview_flow.py)
    media: MediaVault | None = None  # encrypted recordings and reference frames
    rates: AnalysisRateController | None = None  # load-aware analysis rate (None: fixed)


@dataclass(frozen=True)
class InterviewOutcome:
    reason: str
    result: SessionResult | None
    recording: RecordingResult | None


class LiveInterview:
    def __init__(self, interview_id: str, locale: str, hub: HubContext,
                 on_finished: Callable[[LiveInterview], None]) -> None:
        self.id = interview_id
        self.locale = locale
        self.hub = hub
        settings = hub.settings
        self.clock = MediaClock()
        self.started = time.monotonic()
        self.analyzers = [TimedAnalyzer(a, self.clock, hub.video_latency, hub.audio_latency,
                                        hub.counters) for a in hub.analyzers]
        self.session = VerificationSession(SessionContext(interview_id), self.analyzers,
                                           DefaultPolicy(), hub.executor)
        # In the spool while it runs; encrypted into the vault when it ends (recording_vault)
        folder = spool_dir(hub.media, interview_id) if hub.media is not None else \
            settings.data_dir / "recordings" / interview_id
        self.recording = InterviewRecording(folder, self.clock.wall0) if settings.record \
            else None
        self.profile = PROFILES[settings.bitrate_profile]
        self.policy = BandwidthPolicy(self.profile)
        scale = settings.prompt_time_scale
        self.sequencer = PromptSequencer(tuple(replace(s, seconds=s.seconds * scale)
                                               for s in DEFAULT_PROMPTS))
        self.peer: InterviewPeer | None = None
        self.rate = hub.rates.register() if hub.rates is not None else None
        self.feed = LiveFeed()  # what reviewers watch live (signaling.relay)
        self.answered = 0  # offers answered (connections attempted successfully)
        self.live_s = 0.0
        self.prompt_index = -1
        self.guidance = ""
        self.network_quality = "good"
        self.sender_stats: SenderStats | None = None
        # What the geo checks get at the end (GPS and time zone arrive over the data channel).
        self.geo_input: dict[str, Any] = {"session_id": interview_id, "locale": locale}
        self.lock = asyncio.Lock()
        self.outcome: InterviewOutcome | None = None
        self.done = asyncio.Event()
        self._on_finished = on_finished
        self._task: asyncio.Task[None] | None = None
        self._finishing = False
        self._disconnected_since: float | None = None
        self._last_policy = 0.0
        self._last_guidance = 0.0
        self._last_progress = 0.0
        self._receive_counts: dict[str, tuple[int, int]] = {}
        self._resyncs = 0
        self._guidance_busy = False
        self._background: set[asyncio.Task[Any]] = set()
        self.flow: ScriptedFlow | None = None
        self.records = RecordWriter(f"interview {interview_id}")
        self._geo_latest: GeoFix | None = None
        self._geo_queued = False

    async def start(self) -> None:
        if self.hub.flow_factory is not None:
            self.flow = await self.hub.flow_factory(self.id)
        if self.flow is not None:  # the scripted interview: its context, its turn detector
            self.session = VerificationSession(self.flow.context,
                                               [*self.analyzers, *self.flow.analyzers],
                                               self.session.policy, self.hub.executor)
            self.geo_input.update(self.flow.geo_input())
        await self.session.start()
        self._task = asyncio.create_task(self._control_loop(), name=f"interview-{self.id}")

    # -- connections ---------------------------------------------------------------------------
    async def connect(self, offer_sdp: str, summary: OfferSummary,
                      resume_key: str | None) -> tuple[InterviewPeer, str]:
        async with self.lock:
            if self._finishing:
                raise InterviewClosedError("this interview has already finished")
            old = self.peer
            if old is not None and not old.closed and old.state not in ("failed", "closed"):
                if resume_key is None or resume_key != old.resume_key:
                    raise AlreadyConnectedError(
                        "this interview is already connected from another page or device")
            if old is not None:
                await old.close()
            segment = self.recording.new_segment(summary.video) if self.recording else None
            peer = InterviewPeer(configuration=self.hub.configuration, clock=self.clock,
                                 session=self.session, segment=segment,
                                 analysis_fps=self.hub.settings.analysis_fps,
                                 on_message=self._on_message, on_state=self._on_peer_state,
                                 robust=self.hub.settings.robust_receive, feed=self.feed,
                                 rate=self.rate)
            self.peer = peer
            self._receive_counts.clear()
            shape = AnswerShape(self.policy.target_bps, self.profile.audio_bps)
            try:
                answer = await asyncio.wait_for(peer.answer(offer_sdp, shape), timeout=20)
            except BaseException:
                self.peer = None
                await peer.close()
                raise
            self.prompt_index = -1  # re-send the current prompt to the new page
            self.guidance = ""
            self.answered += 1
            return peer, answer

    def client_address(self, peer_ip: str | None, forwarded_for: str | None) -> None:
        if self.flow is not None:
            self.flow.client(peer_ip)
        if peer_ip:
            self.geo_input["peer_ip"] = peer_ip
        if forwarded_for:
            self.geo_input["forwarded_for"] = forwarded_for

    async def hangup(self, peer: InterviewPeer) -> None:
        async with self.lock:
            if self.peer is peer:
                await self._lose_peer(peer, "hangup")

    async def _lose_peer(self, peer: InterviewPeer, why: str) -> None:
        if self.peer is not peer:
            return
        log.info("interview %s: connection lost (%s)", self.id, why)
        self.peer = None
        self._disconnected_since = time.monotonic()
        self.records.submit("connection lost", lambda: self.hub.service.interrupted(self.id))
        if self.flow is not None:
            await self.flow.lost(self.clock.now())
        await peer.close()

    def _on_peer_state(self, peer: InterviewPeer, state: str) -> None:
        if state == "connected" and peer is self.peer:
            self._disconnected_since = None
            self.records.submit("connected", lambda: self.hub.service.connected(self.id))
            if self.flow is not None:
                self._spawn(self.flow.connected(peer.send, self.clock.now()))
        elif state in ("failed", "closed") and peer is self.peer and not peer.closed:
            self._spawn(self._lose_peer(peer, state))

    def _on_message(self, peer: InterviewPeer, message: PageMessage) -> None:
        if self.flow is not None:
            self.flow.on_message(message, self.clock.now())
        if isinstance(message, Hello):
            self.policy.set_capture_height(message.height)
            if message.timezone:
                self.geo_input["timezone"] = message.timezone
            peer.send({"type": "welcome", "session": self.id, "locale": self.locale,
                       "prompts_total": len(self.sequencer.steps)})
            # no re-send here: a new page is a new peer (connect() resets the prompt), and a
            # prompt already sent on this ordered channel has reached this page
        elif isinstance(message, Geo):
            at = message.timestamp_ms / 1000 if message.timestamp_ms else time.time()
            self._record_geo(GeoFix(message.latitude, message.longitude, message.accuracy_m, at))
            self.geo_input["gps"] = {"lat": message.latitude, "lon": message.longitude,
                                     "accuracy_m": message.accuracy_m, "time": at}
        elif isinstance(message, GeoDenied):
            self._record_geo(None)
            self.geo_input["gps"] = {"error": "permission_denied" if message.reason == "denied"
                                     else "position_unavailable"}
        elif isinstance(message, SenderStats):
            self.sender_stats = message
        elif isinstance(message, Bye):
            self._spawn(self.hangup(peer))

    def _record_geo(self, fix: GeoFix | None) -> None:
        """Coalesced: a page may send fixes as fast as it likes; at most one location write
        waits, and it writes the newest fix when its turn comes."""
        self._geo_latest = fix
        if not self._geo_queued:
            self._geo_queued = True
            self.records.submit("location", self._write_geo)

    def _write_geo(self) -> None:  # worker thread
        self._geo_queued = False  # first: a fix arriving from now on queues its own write
        self.hub.service.geolocation(self.id, self._geo_latest)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- control loop --------------------------------------------------------------------------
    async def _control_loop(self) -> None:
        settings = self.hub.settings
        last = time.monotonic()
        while True:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            dt, last = now - last, now
            try:
                reason = await self._tick(now, dt, settings)
            except Exception:
                log.exception("interview %s: control step failed", self.id)
                reason = None
            if reason is not None:
                await self._finish(reason)
                return

    async def _tick(self, now: float, dt: float, settings: ServerSettings) -> str | None:
        if now - self.started > settings.interview_max_s:
            return "time_limit"
        peer = self.peer
        if peer is None or peer.closed:
            if self._disconnected_since is None:
                self._disconnected_since = now
            if now - self._disconnected_since > settings.reconnect_grace_s:
                return "abandoned"
            return None
        ages = [a for a in (peer.media_age("video"), peer.media_age("audio")) if a is not None]
        newest = min(ages) if ages else None
        if (newest is None and now - peer.created > settings.media_timeout_s) or (
                newest is not None and newest > settings.media_timeout_s):
            peer.send({"type": "error", "code": "no_media",
                       "message": "no audio or video received"})
            async with self.lock:
                await self._lose_peer(peer, "no media")
            return None
        # The interview clock runs on media the applicant sends *while the page can see the
        # prompts*: on a slow link the data channel may open seconds after the media does, and a
        # prompt nobody saw must not be skipped.
        if newest is not None and newest < MEDIA_FLOWING_S and peer.channel_open:
            self.live_s += dt
        if self.flow is not None:
            # the script advances only while the page can see its prompts (as the fixed
            # prompts do): on a slow link the channel may open seconds after the media
            if newest is not None and peer.channel_open:
                ended = await self.flow.tick(peer.send, self.clock.now(), peer.media_age("video"),
                                             peer.media_age("audio"), self.network_quality,
                                             self.session.evidence)
                if ended is not None:
                    return ended
            position = None
        else:
            position = self.sequencer.position(self.live_s)
        if self.rate is not None:
            self.rate.focus = self._in_focus(position)
            self.rate.lip_sync = self.flow is not None and focus_open(
                self.flow.context.script.get("steps"), self.clock.now(), LIP_SYNC_STEP_TYPES)
        if position is not None and newest is not None and position.index != self.prompt_index:
            if position.done:
                self.prompt_index = position.index
                total = len(self.sequencer.steps)
                self.records.submit("prompts done",
                                    lambda: self.hub.service.prompt_done(self.id, total))
                peer.send({"type": "done"})
                return "completed"
            # a prompt counts as shown only once it reached the page; otherwise retry next tick
            if peer.send({"type": "prompt", "index": position.index,
                          "total": len(self.sequencer.steps), **position.step.to_json()}):
                self.prompt_index = position.index
                shown = position.index
                self.records.submit("prompt shown",
                                    lambda: self.hub.service.prompt_done(self.id, shown))
        if now - self._last_policy >= 1.0:
            self._bandwidth_step(peer, now - self._last_policy if self._last_policy else 1.0)
            self._last_policy = now
        if now - self._last_guidance >= 1.0 and not self._guidance_busy:
            self._last_guidance = now
            self._guidance_busy = True
            self._spawn(self._guidance_step(peer))
        if now - self._last_progress >= 2.0:
            self._last_progress = now
            peer.send({"type": "progress", "elapsed_s": round(self.live_s, 1),
                       "total_s": self.sequencer.total_seconds,
                       "quality": self.network_quality})
        return None

    def _in_focus(self, position: PromptPosition | None) -> bool:
        """A challenge or digit reading is being judged (scripted), or an action prompt runs
        (fixed prompts): these short windows get the full analysis rate."""
        if self.flow is not None:
            return focus_open(self.flow.context.script.get("steps"), self.clock.now())
        return position is not None and position.step is not None and \
            position.step.kind == "action"

    def _release_rate(self) -> None:
        if self.rate is not None and self.hub.rates is not None:
            self.hub.rates.unregister(self.rate)

    def _bandwidth_step(self, peer: InterviewPeer, interval: float) -> None:
        expected = received = 0
        jitter = 0.0
        for kind, robust in peer.receive.items():
            exp, rec, jit = robust.rtp_counts()
            prev = self._receive_counts.get(kind, (exp, rec))
            self._receive_counts[kind] = (exp, rec)
            expected += max(0, exp - prev[0])
            received += max(0, rec - prev[1])
            if kind == "video":
                jitter = jit
        video = peer.receive.get("video")
        resyncs = video.stats.buffer.resyncs if video else 0
        frames, gap = peer.video.window() if peer.video else (0, 0.0)
        sample = ReceiveSample(interval, expected, received, jitter,
                               gap if peer.video and peer.video.frames else 0.0,
                               frames / interval if interval > 0 else 0.0,
                               resyncs - self._resyncs,
                               video.stats.remb_estimate_bps if video else None)
        self._resyncs = resyncs
        decision = self.policy.update(sample)
        self.network_quality = decision.quality
        if video is not None:
            video.remb_cap_bps = decision.target_bps
            video.send_remb(decision.target_bps)
        if decision.command_due:
            peer.send(decision.command())

    async def _guidance_step(self, peer: InterviewPeer) -> None:
        try:
            face: FaceView | None = None
            image = peer.video.latest_rgb if peer.video else None
            if image is not None and self.hub.face_detector is not None:
                face = await self.hub.executor.run(look_at_face, self.hub.face_detector, image)
            code = choose_guidance(video_age_s=peer.media_age("video"),
                                   audio_age_s=peer.media_age("audio"), face=face,
                                   luma=peer.video.latest_luma if peer.video else None,
                                   network=self.network_quality)
            if self.flow is not None:
                self.flow.guidance(code, self.clock.now())
            if code != self.guidance and peer.send({"type": "guidance", "code": code}):
                self.guidance = code
        except Exception:
            log.exception("interview %s: guidance failed", self.id)
        finally:
            self._guidance_busy = False

    # -- end -----------------------------------------------------------------------------------
    async def finish(self, reason: str) -> InterviewOutcome:
        """End the interview now (server shutdown, operator request)."""
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._finish(reason)
        assert self.outcome is not None
        return self.outcome

    async def _finish(self, reason: str) -> None:
        if self._finishing:
            await self.done.wait()
            return
        self._finishing = True
        log.info("interview %s finished: %s", self.id, reason)
        try:
            async with self.lock:
                peer, self.peer = self.peer, None
                if peer is not None:
                    peer.send({"type": "done"})
                    await asyncio.sleep(0.2)  # let the last message leave
                    await peer.close()
            for task in list(self._background):
                task.cancel()
            await asyncio.gather(*self._background, return_exceptions=True)
            await self._run_context_analyzers()
            result = await self.session.finish()
            verdict = result.verdict.to_json()
            if self.flow is not None and reason != "server_shutdown":
                # verdict + webhook first: joining the recording's segments can take seconds
                verdict = await self.flow.conclude(reason, result.evidence)
            recording = await asyncio.to_thread(self.recording.finalize) if self.recording else None
            stored = await asyncio.to_thread(self._seal, recording)
            self.outcome = InterviewOutcome(reason, result, recording)
            await self.records.close()  # the status writes before it land first
            if self.flow is not None and reason == "server_shutdown":
                await self.flow.suspend()  # resumable after the restart: not finished
                await asyncio.to_thread(self.hub.service.interrupted, self.id)
                return
            await asyncio.to_thread(self.hub.service.finished, self.id, reason, verdict, stored)
        except Exception:
            log.exception("interview %s: finishing failed", self.id)
            self.outcome = InterviewOutcome(reason, None, None)
            await self.records.close()
            await asyncio.to_thread(self.hub.service.finished, self.id, f"{reason} (error)",
                                    None, None)
        finally:
            self._release_rate()
            self.feed.close()
            self.done.set()
            self._on_finished(self)

    def _seal(self, recording: RecordingResult | None) -> str | None:
        """Encrypt the recording and the reference face frame; the recording's reference."""
        media = self.hub.media
        if media is None:
            return recording.path if recording else None
        try:
            seal_reference_frame(media, self.id, [s for a in self.analyzers for s in a.streams])
        except Exception:
            log.exception("interview %s: storing the reference frame failed", self.id)
        return seal_recording(media, self.id, recording,
                              self.hub.settings.data_dir / "recordings" / self.id)

    async def _run_context_analyzers(self) -> None:
        """Analyzers that need no media (geo) run once, with everything learnt meanwhile."""
        context = SessionContext(self.id, geo=self.geo_input)
        for analyzer in self.hub.context_analyzers:
            try:
                stream = analyzer.open_stream(context, self.hub.executor)
                stream.start()
                for item in await stream.aclose():
                    self.session.add_evidence(item)
            except Exception:
                log.exception("interview %s: analyzer %s failed", self.id, analyzer.name)

    async def discard(self) -> None:
        """Drop an interview whose first connection never got going (its record stays open)."""
        self._finishing = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.session.finish()
        await self.records.close()
        if self.recording is not None:
            await asyncio.to_thread(self.recording.discard)
            if self.hub.media is not None:
                await asyncio.to_thread(seal_leftovers, self.hub.media, self.id)
        self._release_rate()
        self.feed.close()
        self.done.set()
        self._on_finished(self)

    def live_stats(self) -> dict[str, Any]:
        peer = self.peer
        out: dict[str, Any] = {"live_s": round(self.live_s, 2), "prompt_index": self.prompt_index,
                               "guidance": self.guidance, "network_quality": self.network_quality,
                               "target_bps": self.policy.target_bps, "connected": peer is not None}
        if self.rate is not None:
            out["analysis_fps"] = self.rate.fps
            out["analysis_focus"] = self.rate.focus
        out["media_now"] = round(self.clock.now(), 3)
        if peer is not None:
            out["local_ports"] = peer.local_ports()
            out["video_age_s"] = peer.media_age("video")
            out["rtp"] = {k: dict(zip(("expected", "received", "jitter_ms"), r.rtp_counts(),
                                      strict=True)) for k, r in peer.receive.items()}
            if peer.video:
                out["video"] = peer.video.stats.__dict__
                out["freezes"] = [[round(t, 3), round(g, 3)] for t, g in peer.video.freezes]
            if peer.audio:
                out["audio"] = peer.audio.stats.__dict__
            out["receive"] = {k: {"buffer": r.stats.buffer.__dict__,
                                  "decoder_backlog_drops": r.stats.decoder_backlog_drops,
                                  "fec_recovered": r.stats.fec_recovered,
                                  "remb_estimate_bps": r.stats.remb_estimate_bps,
                                  "remb_sent_bps": r.stats.remb_sent_bps}
                              for k, r in peer.receive.items()}
        if self.sender_stats is not None:
            out["sender"] = self.sender_stats.values
        out["evidence"] = _evidence_summary(self.session.evidence)
        return out


def _evidence_summary(evidence: Sequence[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in evidence:
        key = f"{item.check.value}:{item.code or item.outcome.value}"
        counts[key] = counts.get(key, 0) + 1
    return counts
