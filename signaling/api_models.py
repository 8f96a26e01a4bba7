"""Response bodies of the loan-system API (``/v1``), as pydantic models for the OpenAPI schema.

They describe what :class:`verification.workflow.loan.LoanWorkflow` returns; the routes
validate their output through them, so the documentation cannot drift from the behaviour.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ApiError(BaseModel):
    code: str = Field(description="stable, machine-readable: id_photo_no_face, "
                                  "id_photo_unreadable, callback_url_invalid, ...")
    message: str


class SessionCreated(BaseModel):
    session_id: str
    join_url: str = Field(description="send this to the applicant; it carries a short-lived "
                                      "token valid for this session only (in the URL fragment)")
    expires_at: str = Field(description="RFC 3339; the link must be opened before this")
    warnings: list[str] = []


class CurrentStep(BaseModel):
    index: int
    id: str
    kind: str
    attempt: int


class TimeSpan(BaseModel):
    start: float
    end: float


class ReasonView(BaseModel):
    code: str
    message: str
    check: str
    evidence_ids: list[str] = Field(description="ids in GET /v1/sessions/{id}/events")
    windows: list[TimeSpan] = Field(description="media times (s) in the recording")


class CheckView(BaseModel):
    status: Literal["supported", "contradicted", "inconclusive", "not_checked"]
    summary: str
    score: float | None = None
    evidence_ids: list[str] = []


class VerdictView(BaseModel):
    decision: Literal["pass", "review", "reject"]
    policy_version: str
    script: str | None = None
    reasons: list[ReasonView]
    checks: dict[str, CheckView]
    kind: Literal["automatic", "override"]
    decided_at: str
    event_id: str
    reviewer: str | None = None


class DeliveryView(BaseModel):
    event_id: str
    type: str
    status: Literal["pending", "delivered", "failed", "no_callback"]
    attempts: int
    created_at: str
    last_attempt_at: str | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: str | None = None
    delivered_at: str | None = None


class SessionView(BaseModel):
    session_id: str
    application_id: str | None
    applicant_name: str | None
    loan_product: str
    script: str
    locale: str
    state: Literal["created", "live", "interrupted", "finished", "cancelled", "expired"]
    current_step: CurrentStep | None
    steps_total: int | None
    steps_completed: list[str]
    created_at: str
    expires_at: str
    started_at: str | None = None
    finished_at: str | None = None
    end_reason: str | None = None
    connections: int
    declared_business: dict[str, Any] | None = None
    loan_terms: dict[str, Any] | None = None
    callback_url: str | None = None
    verdict: VerdictView | None = None
    deliveries: list[DeliveryView]


class TimelineEntry(BaseModel):
    seq: int
    id: str = Field(description="the id verdict reasons cite")
    kind: Literal["evidence", "flow"]
    check: str | None = None
    outcome: str | None = None
    code: str
    summary: str
    step: str | None = None
    window: TimeSpan | None = None
    recorded_at: str
    score: float | None = None
    model: str | None = None
    provider: str | None = None
    latency_ms: float | None = None
    details: dict[str, Any] = {}


class Timeline(BaseModel):
    session_id: str
    events: list[TimelineEntry]
    next_after: int = Field(description="pass as ?after= to read on")


class VerdictItem(BaseModel):
    cursor: str
    event_id: str
    session_id: str
    application_id: str | None
    kind: Literal["automatic", "override"]
    decision: Literal["pass", "review", "reject"]
    policy_version: str
    decided_at: str
    verdict: dict[str, Any]


class VerdictPage(BaseModel):
    verdicts: list[VerdictItem]
    next_cursor: str = Field(description="pass as ?since= to poll for newer verdicts")


class PersonalDataDeleted(BaseModel):
    session_id: str
    deleted: list[str] = Field(description="the stored objects removed (ID photo, recording, "
                                           "reference frame, templates, ...)")
    by_kind: dict[str, int]
    audit_seq: int = Field(description="the audit-log entry that records the deletion")
