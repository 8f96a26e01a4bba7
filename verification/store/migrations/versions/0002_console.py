"""Reviewer console: login sessions, claims, notes.

Revision ID: 0002_console
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_console"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_logins",
        sa.Column("id_sha256", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_seen_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_console_logins_username", "console_logins", ["username"])
    op.create_table(
        "console_claims",
        sa.Column("session_id", sa.String(32),
                  sa.ForeignKey("interview_sessions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("claimed_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "console_notes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(32),
                  sa.ForeignKey("interview_sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_console_notes_session", "console_notes", ["session_id", "id"])


def downgrade() -> None:
    op.drop_table("console_notes")
    op.drop_table("console_claims")
    op.drop_table("console_logins")
