"""Routes of the reviewer console: login, queue, session view, media, claims, notes, decisions,
evidence export.

Every JSON route takes its user from ``console_user(<action>)`` (cookie session, CSRF on unsafe
methods, role check) and appends what the user did to the audit log. Handlers are sync: FastAPI
runs them in its thread pool, so database reads, argon2 hashing and decryption stay off the
event loop.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator

from signaling.console import auth, pages
from signaling.console.auth import ConsoleUser, console_user
from signaling.console.decisions import decide
from signaling.console.errors import MediaNotFoundError
from signaling.console.export import encode, evidence_bundle
from signaling.console.media import MediaKind, open_media
from signaling.console.queue import QueueFilter, build_queue
from signaling.console.ranges import media_response
from signaling.console.services import services
from signaling.console.session_view import session_view
from signaling.console.worklist import MAX_NOTE_CHARS, add_note, claim, release
from verification.protect.roles import Action, Role
from verification.workflow import repository as repo
from verification.workflow.loan import SessionNotFoundError

api = APIRouter(prefix="/console/api", tags=["console"])
NO_STORE = {"Cache-Control": "no-store"}


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


class Me(BaseModel):
    username: str
    role: str
    csrf: str


class NoteRequest(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_NOTE_CHARS)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the note is empty")
        return value.strip()


class DecisionRequest(BaseModel):
    decision: Literal["approve", "reject"]
    note: str = Field(min_length=1, max_length=MAX_NOTE_CHARS)
    # the session view's ``current_verdict_id`` the reviewer decided on (optional for API
    # clients: without it the server checks against the latest verdict it reads itself)
    verdict_id: int | None = Field(default=None, ge=1)

    @field_validator("note")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a decision needs a note")
        return value.strip()


def _known(request: Request, session_id: str) -> None:
    with services(request).sessions() as db:
        if repo.get_session(db, session_id) is None:
            raise SessionNotFoundError(f"no session {session_id!r}")


def _json(content: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(content, status_code=status, headers=NO_STORE)


# -- login ----------------------------------------------------------------------------------------

@api.post("/login", response_model=Me)
def login(body: LoginRequest, request: Request) -> JSONResponse:
    svc = services(request)
    result = auth.login(svc, body.username, body.password, auth.client_key(request))
    response = _json({"username": result.user.username, "role": result.user.role.value,
                      "csrf": result.csrf})
    auth.set_cookies(response, request, svc, result)
    return response


@api.post("/logout", status_code=204)
def logout(request: Request) -> Response:
    found = auth.authenticate(request)
    auth.check_csrf(request, found.csrf)
    svc = services(request)
    auth.logout(svc, request)
    svc.record(found.user.username, found.user.role.value, "console.logout")
    response = Response(status_code=204)
    auth.clear_cookies(response)
    return response


@api.get("/me", response_model=Me)
def me(request: Request) -> JSONResponse:
    found = auth.authenticate(request)
    return _json({"username": found.user.username, "role": found.user.role.value,
                  "csrf": found.csrf})


# -- queue and claims -----------------------------------------------------------------------------

@api.get("/queue")
def queue(request: Request,
          user: Annotated[ConsoleUser, Depends(console_user(Action.QUEUE_VIEW))],
          product: Annotated[str | None, Query(max_length=64)] = None,
          reason: Annotated[str | None, Query(max_length=64)] = None) -> JSONResponse:
    svc = services(request)
    with svc.sessions() as db:
        items = build_queue(db, QueueFilter(product or None, reason or None), svc.clock(),
                            svc.settings.review_sample_rate)
    svc.record_read(user.username, user.role.value, Action.QUEUE_VIEW.value, "queue",
                    (product, reason), product=product, reason=reason, items=len(items))
    return _json({"items": items})


@api.post("/sessions/{session_id}/claim")
def claim_session(session_id: str, request: Request,
                  user: Annotated[ConsoleUser, Depends(console_user(Action.SESSION_CLAIM))]
                  ) -> JSONResponse:
    _known(request, session_id)
    svc = services(request)
    holder = claim(svc.sessions, session_id, user.username, svc.clock())
    svc.record(user.username, user.role.value, Action.SESSION_CLAIM.value,
               f"session:{session_id}")
    return _json({"claimed_by": holder})


@api.post("/sessions/{session_id}/release")
def release_session(session_id: str, request: Request,
                    user: Annotated[ConsoleUser, Depends(console_user(Action.SESSION_CLAIM))]
                    ) -> JSONResponse:
    """Drop a claim: one's own, or (supervisor) anyone's, e.g. a colleague who went home."""
    _known(request, session_id)
    svc = services(request)
    release(svc.sessions, session_id, user.username, force=user.role is Role.SUPERVISOR)
    svc.record(user.username, user.role.value, "session.release", f"session:{session_id}")
    return _json({"claimed_by": None})


# -- the session view and its media ---------------------------------------------------------------

@api.get("/sessions/{session_id}")
def get_session(session_id: str, request: Request,
                user: Annotated[ConsoleUser, Depends(console_user(Action.SESSION_VIEW))]
                ) -> JSONResponse:
    svc = services(request)
    with svc.sessions() as db:
        view = session_view(svc.core, db, session_id)
    svc.record(user.username, user.role.value, Action.SESSION_VIEW.value,
               f"session:{session_id}")
    return _json(view)


def _media(request: Request, user: ConsoleUser, session_id: str, kind: MediaKind,
           action: str) -> Response:
    svc = services(request)
    source = open_media(svc.core, session_id, kind)
    if source is None:
        _known(request, session_id)
        raise MediaNotFoundError(f"session {session_id} has no {kind.value.replace('_', ' ')}")
    header = request.headers.get("range")
    svc.record_read(user.username, user.role.value, action, f"session:{session_id}", kind.value,
                    media=kind.value, range=header)
    return media_response(source, header)


@api.get("/sessions/{session_id}/recording")
def recording(session_id: str, request: Request,
              user: Annotated[ConsoleUser, Depends(console_user(Action.RECORDING_PLAY))]
              ) -> Response:
    return _media(request, user, session_id, MediaKind.RECORDING, Action.RECORDING_PLAY.value)


@api.get("/sessions/{session_id}/id-photo")
def id_photo(session_id: str, request: Request,
             user: Annotated[ConsoleUser, Depends(console_user(Action.SESSION_VIEW))]
             ) -> Response:
    return _media(request, user, session_id, MediaKind.ID_PHOTO, "session.view_id_photo")


@api.get("/sessions/{session_id}/reference-frame")
def reference_frame(session_id: str, request: Request,
                    user: Annotated[ConsoleUser, Depends(console_user(Action.SESSION_VIEW))]
                    ) -> Response:
    return _media(request, user, session_id, MediaKind.REFERENCE_FRAME,
                  "session.view_reference_frame")


@api.get("/sessions/{session_id}/export")
def export_evidence(session_id: str, request: Request,
                    user: Annotated[ConsoleUser, Depends(console_user(Action.EXPORT))]
                    ) -> Response:
    """The session's evidence bundle as a JSON download (supervisors; see ``export.py``)."""
    svc = services(request)
    with svc.sessions() as db:
        bundle = evidence_bundle(svc.core, db, svc.audit, session_id,
                                 {"username": user.username, "role": user.role.value},
                                 svc.clock())
    body = encode(bundle)
    svc.record(user.username, user.role.value, Action.EXPORT.value, f"session:{session_id}",
               sha256=hashlib.sha256(body).hexdigest(), bytes=len(body),
               media_objects=len(bundle["media"]), audit_entries=len(bundle["audit"]["entries"]))
    name = re.sub(r"[^A-Za-z0-9_-]", "_", session_id)[:64]
    return Response(body, media_type="application/json", headers={
        **NO_STORE, "Content-Disposition": f'attachment; filename="evidence-{name}.json"'})


# -- notes and decisions --------------------------------------------------------------------------

@api.post("/sessions/{session_id}/notes", status_code=201)
def post_note(session_id: str, body: NoteRequest, request: Request,
              user: Annotated[ConsoleUser, Depends(console_user(Action.NOTE_ADD))]
              ) -> JSONResponse:
    _known(request, session_id)
    svc = services(request)
    note = add_note(svc.sessions, session_id, user.username, body.text, svc.clock())
    svc.record(user.username, user.role.value, Action.NOTE_ADD.value, f"session:{session_id}",
               chars=len(body.text))
    return _json(note, 201)


@api.post("/sessions/{session_id}/decision")
def post_decision(session_id: str, body: DecisionRequest, request: Request,
                  user: Annotated[ConsoleUser, Depends(console_user(Action.DECIDE))]
                  ) -> JSONResponse:
    result = decide(services(request), user, session_id, body.decision, body.note,
                    decided_on=body.verdict_id)
    return _json({"decision": result.decision, "event_id": result.event_id})


router = APIRouter()
router.include_router(api)
router.include_router(pages.router)
