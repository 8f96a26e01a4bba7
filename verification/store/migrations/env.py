"""Alembic environment: runs on the connection the server hands over (``migrate.upgrade``).

Why no ``alembic.ini`` logging setup: the migrations run inside ``verification serve`` at start
and inside tests; they must use the process's logging, not reconfigure it. SQLite gets batch
mode (its ALTER TABLE cannot drop or change columns); PostgreSQL takes an advisory lock so two
servers starting together do not migrate concurrently.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from verification.store.schema import Base

ADVISORY_LOCK_KEY = 0x5645_5249  # "VERI"


def _run(connection) -> None:  # noqa: ANN001
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=context.config.get_main_option("sqlalchemy.url"),
                      target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
