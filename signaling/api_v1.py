"""The loan-system API: server-to-server, ``Authorization: Bearer $VERIFICATION_API_KEY``.

Each handler is a few lines: parse, call :class:`verification.workflow.loan.LoanWorkflow`,
return. Errors are JSON ``{"code", "message"}`` with a 4xx status (see ``ApiError``).
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile

from signaling.api_models import (
    ApiError,
    PersonalDataDeleted,
    SessionCreated,
    SessionView,
    Timeline,
    VerdictPage,
)
from signaling.personal_data import forget_session
from signaling.rate_limit import TokenBucketLimiter
from verification.errors import VerificationError
from verification.workflow.intake import (
    MAX_ID_PHOTO_BYTES,
    MAX_VOICEPRINT_BYTES,
    SessionRequest,
    Upload,
)
from verification.workflow.loan import LoanWorkflow
from verification.workflow.webhooks import iso

LOOPBACK = ("127.0.0.1", "::1", "localhost", "testclient")


class UnauthorizedError(VerificationError):
    code = "unauthorized"
    http_status = 401


def require_api_key(request: Request) -> None:
    """The configured API key, or — when none is configured — a loopback client only."""
    key = request.app.state.core.settings.api_key
    header = request.headers.get("authorization", "")
    if key:
        if hmac.compare_digest(header.encode(), f"Bearer {key}".encode()):
            return
        raise UnauthorizedError("missing or wrong API key (Authorization: Bearer <key>)")
    client = request.client.host if request.client else ""
    if client not in LOOPBACK:
        raise UnauthorizedError("no API key is configured: only loopback clients are served")


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ApiError, "description": text} for status, text in (
        (400, "malformed request"), (401, "missing or wrong API key"),
        (404, "unknown session"), (409, "the session is closed"),
        (413, "file too large"), (422, "invalid field (see code)"),
        (429, "too many sessions created, or the applicant's failure budget is spent "
              "(code failure_budget_spent; see Retry-After)"))}

router = APIRouter(prefix="/v1", tags=["loan system"], dependencies=[Depends(require_api_key)],
                   responses=ERRORS)


def _credential(request: Request) -> str:
    """Who is calling, for rate limits and the audit log: the bearer key, else the client."""
    header = request.headers.get("authorization", "")
    if header:
        return header
    return "client:" + (request.client.host if request.client else "")


def _workflow(request: Request) -> LoanWorkflow:
    return request.app.state.core.workflow


def _upload(file: UploadFile | None, limit: int) -> Upload | None:
    if file is None:
        return None
    return Upload(file.filename, file.content_type, file.file.read(limit + 1))


@router.post("/sessions", status_code=201, response_model=SessionCreated)
def create_session(
    request: Request,
    id_photo: Annotated[UploadFile, File(description="the applicant's ID photo (JPEG/PNG/WebP)")],
    application_id: Annotated[str, Form(max_length=128)],
    applicant_name: Annotated[str, Form(max_length=256)],
    loan_product: Annotated[str, Form(max_length=64)],
    declared_business: Annotated[str, Form(
        max_length=4096, description='JSON: {"type", "address", "coordinates": {"lat", "lon"}}')],
    callback_url: Annotated[str | None, Form(max_length=2048)] = None,
    locale: Annotated[str, Form(max_length=16)] = "zh-CN",
    loan_terms: Annotated[str | None, Form(
        max_length=4096, description='JSON: {"amount", "currency", "annual_rate_pct", '
                                     '"term_months", "fees"}')] = None,
    voiceprint: Annotated[UploadFile | None, File(description="optional enrolment audio")] = None,
) -> SessionCreated:
    """Create an interview; send ``join_url`` to the applicant.

    Rate limited per API key (``VERIFICATION_SESSION_RATE_PER_MIN`` / ``_BURST``): 429 with
    ``Retry-After`` when exceeded."""
    core = request.app.state.core
    core.session_limiter.acquire(_credential(request), "sessions created")
    created = _workflow(request).create_session(SessionRequest(
        application_id=application_id, applicant_name=applicant_name,
        loan_product=loan_product, declared_business=declared_business,
        callback_url=callback_url, locale=locale, loan_terms=loan_terms,
        id_photo=_upload(id_photo, MAX_ID_PHOTO_BYTES),
        voiceprint=_upload(voiceprint, MAX_VOICEPRINT_BYTES)))
    return SessionCreated(session_id=created.session_id, join_url=created.join_url,
                          expires_at=iso(created.expires_at) or "",
                          warnings=list(created.warnings))


@router.get("/sessions/{session_id}", response_model=SessionView)
def get_session(session_id: str, request: Request) -> dict[str, Any]:
    """Status, current step, the verdict with per-check results and reasons, delivery state."""
    return _workflow(request).session_view(session_id)


@router.get("/sessions/{session_id}/events", response_model=Timeline)
def get_events(session_id: str, request: Request,
               after: Annotated[int, Query(ge=0, le=2**53)] = 0,
               limit: Annotated[int, Query(ge=1, le=500)] = 500) -> dict[str, Any]:
    """The evidence timeline: analyzer evidence and interview-flow entries, in order."""
    return _workflow(request).timeline(session_id, after, limit)


@router.post("/sessions/{session_id}/cancel", response_model=SessionView)
async def cancel_session(session_id: str, request: Request) -> dict[str, Any]:
    """Cancel an open session (a running interview ends at once; no verdict is made)."""
    view = _workflow(request).cancel(session_id)
    hub = getattr(request.app.state.core, "hub", None)
    if hub is not None and hub.live(session_id) is not None:
        await hub.finish(session_id, "cancelled")
    return view


@router.delete("/sessions/{session_id}/personal-data", response_model=PersonalDataDeleted)
async def delete_personal_data(
    session_id: str, request: Request,
    reason: Annotated[str, Query(min_length=1, max_length=512,
                                 description="e.g. the data-subject request's ticket")]
    = "data-subject deletion request from the loan system",
) -> dict[str, Any]:
    """Data-subject deletion: remove the session's ID photo, enrolment audio, recording,
    reference frame and biometric templates; verdicts stay. The deletion is recorded in the
    audit log (also when nothing was left). A running interview is ended first."""
    core = request.app.state.core
    _workflow(request).session_view(session_id)  # 404 for unknown sessions
    hub = getattr(core, "hub", None)
    if hub is not None and hub.live(session_id) is not None:
        await hub.finish(session_id, "personal_data_deleted")
    actor = f"api-key:{TokenBucketLimiter.key_for(_credential(request))[:12]}"
    report = await asyncio.to_thread(
        forget_session, core.vault, core.settings.data_dir, session_id, actor=actor,
        reason=reason)
    return {"session_id": session_id, "deleted": list(report.deleted),
            "by_kind": dict(report.by_kind), "audit_seq": report.audit_seq}


@router.get("/verdicts", response_model=VerdictPage)
def list_verdicts(request: Request,
                  since: Annotated[str | None, Query(max_length=32)] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    """Verdicts (and later overrides) newer than the cursor, oldest first: for integrations
    that poll instead of (or besides) receiving webhooks."""
    return _workflow(request).verdicts_since(since, limit)
