"""HTTP routes of the interview edge: the applicant page, WebRTC signaling, session admin.

Signaling is plain HTTP: the page POSTs its offer (without waiting for ICE gathering) and
trickles its candidates with PATCH; aiortc gathers its own candidates before answering, so the
answer carries them all. Admin routes (create/read/finish sessions, metrics) accept loopback
clients, or any client with ``Authorization: Bearer $VERIFICATION_ADMIN_TOKEN`` when that is
set, until the loan-system API (interview-flow issue) replaces them.
"""

from __future__ import annotations

import asyncio
import hmac
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from signaling.errors import ForbiddenError
from signaling.hub import InterviewHub
from signaling.sdp import MAX_SDP_BYTES
from verification.workflow.budget import check_join

STATIC = Path(__file__).resolve().parent / "static"

router = APIRouter()


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC)


def _hub(request: Request) -> InterviewHub:
    return request.app.state.core.hub


def _require_admin(request: Request) -> None:
    hub = _hub(request)
    token = hub.settings.admin_token
    header = request.headers.get("authorization", "")
    # bytes: compare_digest refuses str with non-ASCII characters (a crafted header -> 500)
    if token and hmac.compare_digest(header.encode(), f"Bearer {token}".encode()):
        return
    client = request.client.host if request.client else ""
    if not token and client in ("127.0.0.1", "::1", "localhost", "testclient"):
        return
    raise ForbiddenError("admin routes need a loopback client or the admin bearer token")


# -- applicant page ------------------------------------------------------------------------------

@router.get("/join", include_in_schema=False)
def join_page() -> FileResponse:
    # The token travels in the URL fragment (#...), so it never reaches server logs or proxies.
    return FileResponse(STATIC / "join.html", media_type="text/html",
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


# -- signaling -----------------------------------------------------------------------------------

class SessionQuery(BaseModel):
    token: str = Field(min_length=1, max_length=128)


class OfferRequest(BaseModel):
    token: str = Field(min_length=1, max_length=128)
    sdp: str = Field(min_length=1, max_length=MAX_SDP_BYTES)
    type: Literal["offer"] = "offer"
    resume_key: str | None = Field(None, max_length=64)


class OfferResponse(BaseModel):
    peer_id: str
    resume_key: str
    session: str
    type: Literal["answer"] = "answer"
    sdp: str


class Candidate(BaseModel):
    candidate: str | None = Field(None, max_length=512)
    sdpMid: str | None = Field(None, max_length=32)
    sdpMLineIndex: int | None = Field(None, ge=0, le=16)


class CandidatesRequest(BaseModel):
    resume_key: str = Field(min_length=1, max_length=64)
    candidates: list[Candidate] = Field(max_length=32)


class HangupRequest(BaseModel):
    resume_key: str = Field(min_length=1, max_length=64)


def _check_failure_budget(request: Request, token: str) -> None:
    """A join by an applicant or a device that spent its failure budget is refused (429 with
    Retry-After, code ``failure_budget_spent``): another attempt must wait for the window."""
    record = _hub(request).service.authenticate(token)  # unknown / closed links say so first
    check_join(request.app.state.core.workflow, record.id,
               request.client.host if request.client else None,
               request.headers.get("user-agent"))


_BUDGET_SPENT = {429: {"description": "failure budget spent (code failure_budget_spent; "
                                      "see Retry-After)"}}


@router.post("/v1/rtc/session", tags=["signaling"], responses=_BUDGET_SPENT)
def rtc_session(body: SessionQuery, request: Request) -> dict[str, Any]:
    """Check a join link and get the ICE servers before creating the peer connection."""
    _check_failure_budget(request, body.token)
    return _hub(request).session_info(body.token)


@router.post("/v1/rtc/offer", response_model=OfferResponse, tags=["signaling"],
             responses=_BUDGET_SPENT)
async def rtc_offer(body: OfferRequest, request: Request) -> OfferResponse:
    await asyncio.to_thread(_check_failure_budget, request, body.token)
    result = await _hub(request).offer(body.token, body.sdp, body.resume_key,
                                       request.client.host if request.client else None,
                                       request.headers.get("x-forwarded-for"))
    return OfferResponse(peer_id=result.peer_id, resume_key=result.resume_key,
                         session=result.interview_id, sdp=result.sdp)


@router.patch("/v1/rtc/{peer_id}/candidates", status_code=204, tags=["signaling"])
async def rtc_candidates(peer_id: str, body: CandidatesRequest, request: Request) -> Response:
    await _hub(request).add_candidates(peer_id, body.resume_key,
                                       [c.model_dump() for c in body.candidates])
    return Response(status_code=204)


@router.post("/v1/rtc/{peer_id}/hangup", status_code=204, tags=["signaling"])
async def rtc_hangup(peer_id: str, body: HangupRequest, request: Request) -> Response:
    await _hub(request).hangup(peer_id, body.resume_key)
    return Response(status_code=204)


# -- admin (operators and tests; the loan system uses /v1/sessions in signaling/api_v1.py) -------

class CreateSession(BaseModel):
    reference: str | None = Field(None, max_length=128)
    locale: Literal["zh-CN", "en"] = "zh-CN"
    ttl_s: float | None = Field(None, gt=0, le=30 * 24 * 3600)


class CreatedSession(BaseModel):
    id: str
    token: str
    join_url: str
    expires_at: float


@router.post("/v1/admin/sessions", response_model=CreatedSession, status_code=201,
             tags=["admin"])
def create_session(body: CreateSession, request: Request) -> CreatedSession:
    _require_admin(request)
    record, token, url = _hub(request).create_session(body.reference, body.locale, body.ttl_s)
    return CreatedSession(id=record.id, token=token, join_url=url, expires_at=record.expires_at)


@router.get("/v1/admin/sessions/{session_id}", tags=["admin"])
def get_session(session_id: str, request: Request) -> dict[str, Any]:
    _require_admin(request)
    hub = _hub(request)
    out = hub.service.get(session_id).to_json()
    live = hub.live(session_id)
    out["live"] = live.live_stats() if live else None
    return out


@router.post("/v1/admin/sessions/{session_id}/finish", tags=["admin"])
async def finish_session(session_id: str, request: Request) -> dict[str, Any]:
    _require_admin(request)
    hub = _hub(request)
    hub.service.get(session_id)  # 404 for unknown ids
    await hub.finish(session_id, "operator")
    return hub.service.get(session_id).to_json()


@router.get("/v1/metrics", tags=["operations"])
def metrics(request: Request) -> dict[str, Any]:
    _require_admin(request)
    return _hub(request).metrics()
