"""Retention: raw media and biometric templates expire per loan product; verdicts and audit stay.

Why per product: a quick top-up loan and a large first loan have different legal holds, so
each product says how many days its raw media (ID photo, recording, reference frames) and its
templates (face and voice embeddings) are kept. Verdicts, decisions and the audit log are not
in the :class:`~verification.protect.store.EncryptedStore` and are never purged here; they are
the record of what was decided and why.

:func:`purge` is what a scheduler runs (the server daily, or ``cron``); its clock is a
parameter so tests and dry runs can ask "what would expire on date X". Both purge and the
data-subject deletion record what they removed in the audit log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from verification.errors import InvalidInputError
from verification.protect.audit import SYSTEM_ACTOR, AuditLog
from verification.protect.roles import Action, authorize
from verification.protect.store import EncryptedStore, StoredObject


@dataclass(frozen=True)
class RetentionRule:
    """Days to keep each class of object; ``None`` keeps it until a deletion request."""

    media_days: int | None = 90
    template_days: int | None = 365

    def __post_init__(self) -> None:
        for name in ("media_days", "template_days"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                      or value < 0):
                raise InvalidInputError(f"retention {name} must be a whole number of days "
                                        f">= 0 or null, got {value!r}")

    @classmethod
    def from_mapping(cls, data: Any, where: str = "rule") -> RetentionRule:
        """``{"media_days": 30, "template_days": 180}`` (a product's ``retention:`` block)."""
        return _rule(data, where)

    def keep_days(self, record: StoredObject) -> int | None:
        return self.template_days if record.kind.is_template else self.media_days


@dataclass(frozen=True)
class RetentionPolicy:
    default: RetentionRule = field(default_factory=RetentionRule)
    products: Mapping[str, RetentionRule] = field(default_factory=dict)

    def rule_for(self, product: str | None) -> RetentionRule:
        return self.products.get(product, self.default) if product else self.default

    def expires_at(self, record: StoredObject) -> datetime | None:
        days = self.rule_for(record.product).keep_days(record)
        return None if days is None else record.created_at + timedelta(days=days)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RetentionPolicy:
        """``{"default": {"media_days": 30}, "products": {"quick": {"media_days": 7}}}``."""
        if not isinstance(data, Mapping):
            raise InvalidInputError("retention policy must be a mapping")
        unknown = set(data) - {"default", "products"}
        if unknown:
            raise InvalidInputError(f"unknown retention keys: {', '.join(sorted(unknown))}")
        default = _rule(data.get("default") or {}, "default")
        products = {str(name): _rule(rule, f"products.{name}")
                    for name, rule in (data.get("products") or {}).items()}
        return cls(default, products)


def _rule(data: Any, where: str) -> RetentionRule:
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"retention {where} must be a mapping")
    unknown = set(data) - {"media_days", "template_days"}
    if unknown:
        raise InvalidInputError(f"unknown keys in retention {where}: {', '.join(sorted(unknown))}")
    return RetentionRule(**data)


@dataclass(frozen=True)
class PurgeReport:
    deleted: tuple[str, ...]
    by_kind: Mapping[str, int]
    examined: int


@dataclass(frozen=True)
class DeletionReport:
    subject: str
    deleted: tuple[str, ...]
    by_kind: Mapping[str, int]
    audit_seq: int


def expired(store: EncryptedStore, policy: RetentionPolicy, now: datetime) -> list[StoredObject]:
    """The objects whose retention period has ended at ``now`` (a dry run of :func:`purge`)."""
    out = []
    for record in store.list_objects():
        until = policy.expires_at(record)
        if until is not None and until <= now:
            out.append(record)
    return out


def purge(store: EncryptedStore, policy: RetentionPolicy, audit: AuditLog, *,
          now: datetime | None = None) -> PurgeReport:
    """Delete every expired object and append one ``retention.purge`` audit entry."""
    now = now or datetime.now(UTC)
    examined = len(store.list_objects())
    victims = expired(store, policy, now)
    deleted = tuple(r.object_id for r in victims if store.delete(r.object_id))
    by_kind = dict(Counter(r.kind.value for r in victims if r.object_id in set(deleted)))
    if deleted:
        audit.append(actor=SYSTEM_ACTOR, role=SYSTEM_ACTOR, action=Action.RETENTION_PURGE.value,
                     target="store", details={"as_of": now.astimezone(UTC).isoformat(),
                                              "deleted": list(deleted), "by_kind": by_kind})
    return PurgeReport(deleted, by_kind, examined)


def delete_subject(store: EncryptedStore, audit: AuditLog, subject: str, *, actor: str,
                   role: str, reason: str) -> DeletionReport:
    """Data-subject request: remove all media and templates of ``subject``, and record it.

    The audit entry is written even when nothing was stored, so the request itself is on file.
    """
    authorize(role, Action.SUBJECT_DELETE)
    if not subject:
        raise InvalidInputError("a deletion request needs a subject reference")
    if not reason or not reason.strip():
        raise InvalidInputError("a deletion request needs a reason (e.g. the request ticket)")
    records = store.list_objects(subject=subject)
    deleted = tuple(r.object_id for r in records if store.delete(r.object_id))
    by_kind = dict(Counter(r.kind.value for r in records if r.object_id in set(deleted)))
    entry = audit.append(actor=actor, role=str(role), action=Action.SUBJECT_DELETE.value,
                         target=subject, details={"reason": reason.strip(),
                                                  "deleted": list(deleted), "by_kind": by_kind})
    return DeletionReport(subject, deleted, by_kind, entry.seq)
