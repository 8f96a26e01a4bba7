"""Live watch: interviews in progress, a reviewer's relayed view of one, its evidence as it
arrives, and a text message to the applicant's page.

Routes (all under ``/console/api/live``, cookie session + role via ``console_user``):

- ``GET  /console/api/live`` -> the interviews in progress;
- ``GET  /console/api/live/{id}`` -> one of them, plus the ICE servers the reviewer's page needs;
- ``POST /console/api/live/{id}/watch`` {"sdp","type":"offer"} -> {"sdp","type":"answer",
  "watcher_id"}: a send-only peer fed from the applicant's tracks by aiortc ``MediaRelay``
  (``signaling.relay``); the offer carries the page's ICE candidates (no trickle);
- ``POST /console/api/live/{id}/watch/{watcher_id}/close`` -> 204 (the page is leaving);
- ``GET  /console/api/live/{id}/events?after=n`` -> {"items":[evidence...],"next","live"};
- ``POST /console/api/live/{id}/message`` {"text"} -> 202: shown on the applicant's page as a
  ``{"type":"reviewer_message","text"}`` data-channel message.

Watch starts and messages are appended to the audit log.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from signaling.console.auth import ConsoleUser, console_user
from signaling.console.services import services
from signaling.console.watchers import LiveWatchers, NotConnectedError, NotLiveError
from signaling.hub import InterviewHub
from signaling.ice import browser_ice_servers, rtc_configuration
from signaling.live import LiveInterview
from signaling.sdp import MAX_SDP_BYTES
from verification.errors import InvalidInputError
from verification.protect.roles import Action

router = APIRouter(prefix="/console/api/live", tags=["console"])

MAX_EVENTS_PER_POLL = 200
MAX_MESSAGE_CHARS = 500

WatchingUser = Annotated[ConsoleUser, Depends(console_user(Action.LIVE_WATCH))]
MessagingUser = Annotated[ConsoleUser, Depends(console_user(Action.LIVE_MESSAGE))]


class WatchOffer(BaseModel):
    sdp: str = Field(min_length=1, max_length=MAX_SDP_BYTES)
    type: Literal["offer"] = "offer"


class WatchAnswer(BaseModel):
    sdp: str
    type: Literal["answer"] = "answer"
    watcher_id: str


class ReviewerMessage(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


def _hub(request: Request) -> InterviewHub:
    return request.app.state.core.hub


def watchers(request: Request) -> LiveWatchers:
    """The process's watcher registry, made on first use (kept on ``app.state``)."""
    state = request.app.state
    found = getattr(state, "live_watchers", None)
    if found is None:
        found = LiveWatchers(rtc_configuration(state.core.settings))
        state.live_watchers = found
    return found


def _live(request: Request, interview_id: str) -> LiveInterview:
    live = _hub(request).live(interview_id)
    if live is None or live.done.is_set():
        raise NotLiveError("this interview is not in progress")
    return live


async def _record(request: Request, user: ConsoleUser, action: str, target: str,
                  **details: Any) -> None:
    await asyncio.to_thread(services(request).record, user.username, user.role.value, action,
                            target, **details)


def _summary(live: LiveInterview, record: Any, watching: int) -> dict[str, Any]:
    return {"session_id": live.id,
            "application_id": record.reference if record is not None else None,
            "started_at": (record.started_at if record is not None and record.started_at
                           else live.clock.wall0),
            "live_s": round(live.live_s, 1), "prompt_index": live.prompt_index,
            "network": live.network_quality, "connected": live.peer is not None,
            "watchers": watching}


def _records(hub: InterviewHub, ids: list[str]) -> dict[str, Any]:
    out = {}
    for interview_id in ids:
        try:
            out[interview_id] = hub.service.get(interview_id)
        except Exception:  # the record vanished (deleted on request): list the live part only
            out[interview_id] = None
    return out


@router.get("")
async def live_list(request: Request, user: WatchingUser) -> dict[str, Any]:
    hub = _hub(request)
    lives = [live for live in hub.running() if not live.done.is_set()]
    records = await asyncio.to_thread(_records, hub, [live.id for live in lives])
    registry = watchers(request)
    items = [_summary(live, records.get(live.id), registry.count(live.id)) for live in lives]
    items.sort(key=lambda item: item["started_at"] or 0)
    return {"items": items}


@router.get("/{interview_id}")
async def live_one(interview_id: str, request: Request,
                   user: WatchingUser) -> dict[str, Any]:
    live = _live(request, interview_id)
    hub = _hub(request)
    records = await asyncio.to_thread(_records, hub, [live.id])
    out = _summary(live, records[live.id], watchers(request).count(live.id))
    out["ice_servers"] = browser_ice_servers(hub.settings)
    return out


@router.post("/{interview_id}/watch", response_model=WatchAnswer)
async def live_watch(interview_id: str, body: WatchOffer, request: Request,
                     user: WatchingUser) -> WatchAnswer:
    live = _live(request, interview_id)
    watcher = await watchers(request).watch(live, body.sdp, user.username)
    await _record(request, user, "live.watch", interview_id, watcher=watcher.id)
    return WatchAnswer(sdp=watcher.pc.localDescription.sdp, watcher_id=watcher.id)


@router.post("/{interview_id}/watch/{watcher_id}/close", status_code=204)
async def live_watch_close(interview_id: str, watcher_id: str, request: Request,
                           user: WatchingUser) -> Response:
    await watchers(request).leave(interview_id, watcher_id, user.username)
    return Response(status_code=204)


@router.get("/{interview_id}/events")
async def live_events(interview_id: str, request: Request, user: WatchingUser,
                      after: Annotated[int, Query(ge=0, le=10**7)] = 0) -> dict[str, Any]:
    """Evidence in arrival order from index ``after``; ``live`` false once it has ended."""
    live = _hub(request).live(interview_id)
    if live is None:
        await asyncio.to_thread(_hub(request).service.get, interview_id)  # 404 when unknown
        return {"items": [], "next": after, "live": False}
    evidence = live.session.evidence
    page = evidence[after:after + MAX_EVENTS_PER_POLL]
    return {"items": [item.to_json() for item in page], "next": after + len(page),
            "live": not live.done.is_set()}


@router.post("/{interview_id}/message", status_code=202)
async def live_message(interview_id: str, body: ReviewerMessage, request: Request,
                       user: MessagingUser) -> dict[str, Any]:
    live = _live(request, interview_id)
    text = " ".join(body.text.split())  # one line: no control characters reach the page
    if not text:
        raise InvalidInputError("the message is empty")
    peer = live.peer
    if peer is None or not peer.send({"type": "reviewer_message", "text": text}):
        raise NotConnectedError("the applicant's page is not connected right now")
    await _record(request, user, "live.message", interview_id, text=text)
    return {"delivered": True}
