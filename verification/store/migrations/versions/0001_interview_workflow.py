"""Interview workflow: sessions, evidence log, verdicts, outbox, delivery attempts, failures.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "interview_sessions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("application_id", sa.String(128)),
        sa.Column("applicant_name", sa.String(256)),
        sa.Column("loan_product", sa.String(64), nullable=False),
        sa.Column("script_version", sa.String(64), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("callback_url", sa.Text()),
        sa.Column("declared_business", sa.Text()),
        sa.Column("loan_terms", sa.Text()),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.String(64)),
        sa.Column("engine_state", sa.Text()),
        sa.Column("prompt_script", sa.Text()),
        sa.Column("connections", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.Float()),
        sa.Column("finished_at", sa.Float()),
        sa.Column("disconnected_at", sa.Float()),
        sa.Column("end_reason", sa.String(64)),
        sa.Column("decision", sa.String(16)),
        sa.Column("verdict", sa.Text()),
        sa.Column("id_photo_path", sa.Text()),
        sa.Column("voiceprint_path", sa.Text()),
        sa.Column("recording_path", sa.Text()),
        sa.Column("geo", sa.Text()),
        sa.Column("geo_denied", sa.Boolean(), nullable=False),
        sa.Column("device_key", sa.String(64)),
        sa.Column("evidence_seq", sa.Integer(), nullable=False),
    )
    op.create_index("ix_interview_sessions_application_id", "interview_sessions",
                    ["application_id"])
    op.create_index("ix_interview_sessions_state", "interview_sessions", ["state"])

    op.create_table(
        "evidence_log",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(32),
                  sa.ForeignKey("interview_sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("check", sa.String(32)),
        sa.Column("outcome", sa.String(16)),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("media_start", sa.Float()),
        sa.Column("media_end", sa.Float()),
        sa.Column("recorded_at", sa.Float(), nullable=False),
        sa.Column("step_id", sa.String(64)),
        sa.Column("payload", sa.Text()),
    )
    op.create_index("ix_evidence_session_seq", "evidence_log", ["session_id", "seq"])
    op.create_index("ux_evidence_session_entry", "evidence_log", ["session_id", "entry_id"],
                    unique=True)

    op.create_table(
        "verdicts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(32),
                  sa.ForeignKey("interview_sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_verdicts_session_id", "verdicts", ["session_id"])

    op.create_table(
        "outbox_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(32), nullable=False, unique=True),
        sa.Column("session_id", sa.String(32),
                  sa.ForeignKey("interview_sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("type", sa.String(48), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("callback_url", sa.Text()),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("deadline_at", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float()),
        sa.Column("lease_until", sa.Float()),
        sa.Column("lease_owner", sa.String(32)),
        sa.Column("last_attempt_at", sa.Float()),
        sa.Column("last_status_code", sa.Integer()),
        sa.Column("last_error", sa.Text()),
        sa.Column("delivered_at", sa.Float()),
    )
    op.create_index("ix_outbox_events_session_id", "outbox_events", ["session_id"])
    op.create_index("ix_outbox_due", "outbox_events", ["status", "next_attempt_at"])

    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(32),
                  sa.ForeignKey("outbox_events.event_id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("error", sa.Text()),
    )
    op.create_index("ix_delivery_attempts_event_id", "delivery_attempts", ["event_id"])

    op.create_table(
        "attempt_failures",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("subject", sa.String(96), nullable=False),
        sa.Column("session_id", sa.String(32), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
    )
    op.create_index("ix_failures_subject_at", "attempt_failures", ["subject", "at"])


def downgrade() -> None:
    op.drop_table("attempt_failures")
    op.drop_table("delivery_attempts")
    op.drop_table("outbox_events")
    op.drop_table("verdicts")
    op.drop_table("evidence_log")
    op.drop_table("interview_sessions")
