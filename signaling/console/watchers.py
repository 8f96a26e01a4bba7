"""Reviewers watching an interview live: one send-only aiortc peer per reviewer, fed by the relay.

A watcher's peer gets two unbuffered ``MediaRelay`` proxies of the interview's
:class:`signaling.relay.LiveFeed` and re-encodes them for the reviewer's browser (in aiortc's
executor threads, like any aiortc sender). Each watcher is supervised: it is closed when the
interview ends, when the reviewer leaves (their page says so, or the connection fails or
closes), or when it never connects. A limit per interview bounds what watching can cost.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc import sdp as aiortc_sdp

from signaling.errors import InvalidOfferError
from signaling.sdp import MAX_SDP_BYTES
from verification.errors import VerificationError

if TYPE_CHECKING:
    from signaling.live import LiveInterview

log = logging.getLogger(__name__)

MAX_WATCHERS = 3  # per interview: each one costs a video encode on the server
CONNECT_TIMEOUT_S = 20.0  # a watcher whose connection never comes up frees its slot


class WatchLimitError(VerificationError):
    code = "watch_limit"
    http_status = 429


class NotLiveError(VerificationError):
    code = "not_live"
    http_status = 404


class NotConnectedError(VerificationError):
    """The applicant's page is not connected right now, so a message cannot reach it."""

    code = "not_connected"
    http_status = 409


def validate_watch_offer(sdp: str) -> None:
    """A reviewer's offer must only receive audio and/or video: media sent by a reviewer would
    never be read, and aiortc queues unread frames without bound."""
    if not isinstance(sdp, str) or not sdp.lstrip().startswith("v=0"):
        raise InvalidOfferError("not an SDP offer (it must start with v=0)")
    if len(sdp.encode("utf-8", "replace")) > MAX_SDP_BYTES:
        raise InvalidOfferError("the SDP offer is too large")
    try:
        parsed = aiortc_sdp.SessionDescription.parse(sdp)
    except Exception as err:  # aiortc's parser raises assorted errors on bad input
        raise InvalidOfferError(f"malformed SDP offer ({type(err).__name__})") from None
    media = [m for m in parsed.media if m.kind in ("audio", "video")]
    if not media:
        raise InvalidOfferError("the offer receives neither audio nor video")
    kinds = [section.kind for section in media]
    if len(kinds) != len(set(kinds)):  # each section would cost the server its own encoder
        raise InvalidOfferError("the offer may receive one audio and one video section")
    for section in media:
        if section.ice is None or not section.ice.usernameFragment:
            raise InvalidOfferError(f"the {section.kind} section has no ICE credentials")
        if section.direction != "recvonly":  # a reviewer's media would only pile up here
            raise InvalidOfferError(f"the {section.kind} section must be recvonly")


@dataclass(frozen=True)
class WatcherInfo:
    id: str
    interview_id: str
    username: str
    state: str
    age_s: float


class Watcher:
    def __init__(self, interview: LiveInterview, username: str, configuration: Any) -> None:
        self.id = uuid.uuid4().hex
        self.interview = interview
        self.username = username
        self.created = time.monotonic()
        self.pc = RTCPeerConnection(configuration)
        self.proxies: list[Any] = []
        self.connected = False
        self.ended = asyncio.Event()  # the reviewer left, or the connection failed
        self.closed = False
        self.pc.on("connectionstatechange", self._on_state)

    async def answer(self, offer_sdp: str) -> str:
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise InvalidOfferError(f"the offer could not be applied ({err})") from None
        feed = self.interview.feed
        if feed.closed:
            raise NotLiveError("this interview is no longer in progress")
        for transceiver in self.pc.getTransceivers():
            if transceiver.kind in ("audio", "video"):
                proxy = feed.subscribe(transceiver.kind)
                self.proxies.append(proxy)
                self.pc.addTrack(proxy)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp

    def _on_state(self) -> None:
        state = self.pc.connectionState
        if state == "connected":
            self.connected = True
        elif state in ("failed", "closed"):
            self.ended.set()

    def info(self) -> WatcherInfo:
        return WatcherInfo(self.id, self.interview.id, self.username, self.pc.connectionState,
                           round(time.monotonic() - self.created, 1))

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.ended.set()
        for proxy in self.proxies:
            self.interview.feed.unsubscribe(proxy)
        try:
            await asyncio.wait_for(asyncio.shield(self.pc.close()), timeout=10)
        except Exception as err:
            log.warning("watcher %s did not close cleanly: %s", self.id, err)


class LiveWatchers:
    """Every watcher of every interview in this process, with the per-interview limit."""

    def __init__(self, configuration: Any, limit: int = MAX_WATCHERS,
                 connect_timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        self.configuration = configuration
        self.limit = limit
        self.connect_timeout_s = connect_timeout_s
        self._rooms: dict[str, dict[str, Watcher]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def count(self, interview_id: str) -> int:
        return len(self._rooms.get(interview_id, {}))

    def watchers(self, interview_id: str) -> list[WatcherInfo]:
        return [w.info() for w in self._rooms.get(interview_id, {}).values()]

    async def watch(self, interview: LiveInterview, offer_sdp: str, username: str) -> Watcher:
        validate_watch_offer(offer_sdp)
        if interview.done.is_set() or interview.feed.closed:
            raise NotLiveError("this interview is no longer in progress")
        room = self._rooms.setdefault(interview.id, {})
        if len(room) >= self.limit:  # checked and reserved with no await in between
            raise WatchLimitError(f"at most {self.limit} reviewers can watch one interview")
        watcher = Watcher(interview, username, self.configuration)
        room[watcher.id] = watcher
        try:
            await asyncio.wait_for(watcher.answer(offer_sdp), timeout=20)
        except BaseException:
            await self._remove(watcher, "offer failed")
            raise
        task = asyncio.create_task(self._supervise(watcher), name=f"watcher-{watcher.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        log.info("interview %s: reviewer watching (%d of %d)", interview.id, len(room),
                 self.limit)
        return watcher

    async def leave(self, interview_id: str, watcher_id: str, username: str) -> bool:
        """The reviewer's page closed its side; only the reviewer who opened it may close it."""
        watcher = self._rooms.get(interview_id, {}).get(watcher_id)
        if watcher is None or watcher.username != username:
            return False
        watcher.ended.set()
        await self._remove(watcher, "reviewer left")
        return True

    async def _supervise(self, watcher: Watcher) -> None:
        interview_done = asyncio.ensure_future(watcher.interview.done.wait())
        reviewer_gone = asyncio.ensure_future(watcher.ended.wait())
        waiters = {interview_done, reviewer_gone}
        reason = "interview ended"
        try:
            finished, _ = await asyncio.wait(waiters, timeout=self.connect_timeout_s,
                                             return_when=asyncio.FIRST_COMPLETED)
            if not finished and not watcher.connected:
                reason = "never connected"
            else:
                if not finished:
                    finished, _ = await asyncio.wait(waiters,
                                                     return_when=asyncio.FIRST_COMPLETED)
                if interview_done not in finished:
                    reason = "reviewer left"
        finally:
            for waiter in waiters:
                waiter.cancel()
            await self._remove(watcher, reason)

    async def _remove(self, watcher: Watcher, reason: str) -> None:
        room = self._rooms.get(watcher.interview.id)
        if room is not None and room.pop(watcher.id, None) is not None:
            log.info("interview %s: watcher closed (%s)", watcher.interview.id, reason)
            if not room:
                self._rooms.pop(watcher.interview.id, None)
        await watcher.close()

    async def close_all(self) -> None:
        watchers = [w for room in self._rooms.values() for w in room.values()]
        for watcher in watchers:
            await self._remove(watcher, "server stopping")
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
