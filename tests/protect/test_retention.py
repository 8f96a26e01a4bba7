"""Retention purge on a fake clock, and data-subject deletion recorded in the audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest

from verification.errors import VerificationError
from verification.protect.errors import PermissionDeniedError
from verification.protect.retention import (
    RetentionPolicy,
    RetentionRule,
    delete_subject,
    expired,
    purge,
)

POLICY = RetentionPolicy.from_mapping({
    "default": {"media_days": 30, "template_days": None},
    "products": {"quick": {"media_days": 7, "template_days": 90}},
})


def _seed(store, clock):
    for subject, product in (("s-quick", "quick"), ("s-large", "large")):
        store.put(f"{subject}/id_photo", b"photo", kind="id_photo", subject=subject,
                  product=product)
        store.put(f"{subject}/recording", b"video", kind="recording", subject=subject,
                  product=product)
        store.put(f"{subject}/face_template", b"face", kind="face_template", subject=subject,
                  product=product)
    clock.advance(days=3)
    store.put("s-late/recording", b"video", kind="recording", subject="s-late", product="quick")


def test_purge_deletes_by_product_and_kind_as_the_clock_moves(store, audit, clock):
    t0 = clock.now  # the first objects are stored at t0, the last one at t0 + 3 days
    _seed(store, clock)
    assert purge(store, POLICY, audit, now=clock.now).deleted == ()
    assert audit.verify().entries == 0  # nothing purged, nothing logged

    day8 = purge(store, POLICY, audit, now=t0 + timedelta(days=8))
    assert set(day8.deleted) == {"s-quick/id_photo", "s-quick/recording"}
    assert day8.by_kind == {"id_photo": 1, "recording": 1}
    assert store.exists("s-late/recording")  # 5 days old
    assert store.exists("s-quick/face_template") and store.exists("s-large/recording")

    day31 = purge(store, POLICY, audit, now=t0 + timedelta(days=31))
    assert set(day31.deleted) == {"s-late/recording", "s-large/id_photo", "s-large/recording"}
    day91 = purge(store, POLICY, audit, now=t0 + timedelta(days=91))
    assert day91.deleted == ("s-quick/face_template",)
    assert store.exists("s-large/face_template")  # default keeps templates until deletion

    entries = list(audit.entries())
    assert [e.action for e in entries] == ["retention.purge"] * 3
    assert set(entries[0].details["deleted"]) == set(day8.deleted)
    assert audit.verify().ok


def test_expired_is_a_dry_run(store, clock):
    _seed(store, clock)
    victims = expired(store, POLICY, clock.now + timedelta(days=60))
    assert {v.object_id for v in victims} >= {"s-quick/id_photo", "s-large/recording"}
    assert store.exists("s-quick/id_photo")


def test_subject_deletion_removes_media_and_templates_and_is_audited(store, audit, clock):
    _seed(store, clock)
    report = delete_subject(store, audit, "s-quick", actor="dpo", role="admin",
                            reason="GDPR art. 17 request #123")
    assert set(report.deleted) == {"s-quick/id_photo", "s-quick/recording",
                                   "s-quick/face_template"}
    assert store.list_objects(subject="s-quick") == []
    assert len(store.list_objects(subject="s-large")) == 3
    entry = list(audit.entries())[-1]
    assert (entry.seq, entry.action, entry.target, entry.actor) == (
        report.audit_seq, "subject.delete", "s-quick", "dpo")
    assert entry.details["by_kind"] == {"id_photo": 1, "recording": 1, "face_template": 1}
    # A repeated request is still recorded, with nothing left to delete.
    again = delete_subject(store, audit, "s-quick", actor="dpo", role="admin", reason="repeat")
    assert again.deleted == () and audit.verify().entries == 2


def test_subject_deletion_needs_the_admin_role_and_a_reason(store, audit):
    with pytest.raises(PermissionDeniedError):
        delete_subject(store, audit, "s", actor="bob", role="reviewer", reason="x")
    with pytest.raises(VerificationError, match="reason"):
        delete_subject(store, audit, "s", actor="dpo", role="admin", reason=" ")
    assert audit.verify().entries == 0


@pytest.mark.parametrize("data", [
    {"default": {"media_days": -1}},
    {"default": {"media_days": "7"}},
    {"products": {"quick": {"keep": 3}}},
    {"retain": {}},
    [],
])
def test_invalid_policies_are_clear_errors(data):
    with pytest.raises(VerificationError):
        RetentionPolicy.from_mapping(data)


def test_rule_defaults():
    assert RetentionRule().media_days == 90
    assert POLICY.rule_for("unknown-product") == POLICY.default
