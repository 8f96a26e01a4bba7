"""The geo stage inside a verification session: fusion sees LBS / POI evidence, a single failing
sub-check is never outvoted, the mock-location signature rejects through the hard gate, and a
session without geo input says "not checked" for both checks."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.geo.helpers import SHOP_GEO, full_config, scenario, with_
from verification.fusion.policy import DefaultPolicy, PolicyConfig
from verification.geo.analyzer import GeoAnalyzer
from verification.pipeline.analyzer import SessionContext
from verification.pipeline.session import VerificationSession
from verification.runtime import InferenceExecutor, ThreadBudget
from verification.types import Check, CheckStatus, Decision


def _run(analyzer: GeoAnalyzer, geo: dict, session_id: str = "live-1"):
    async def go():
        executor = InferenceExecutor(ThreadBudget(workers=1, intra_op_threads=1))
        try:
            session = VerificationSession(
                SessionContext(session_id, geo=geo), [analyzer],
                DefaultPolicy(PolicyConfig(required=(Check.LBS, Check.POI))), executor)
            await session.start()
            return await session.finish()
        finally:
            executor.shutdown()
    return asyncio.run(go())


def test_at_the_shop_both_checks_are_supported(tmp_path: Path):
    result = _run(GeoAnalyzer(full_config(tmp_path)), SHOP_GEO)
    assert result.verdict.decision is Decision.PASS
    assert result.verdict.checks[Check.LBS].status is CheckStatus.SUPPORTED
    assert result.verdict.checks[Check.POI].status is CheckStatus.SUPPORTED
    codes = {e.code for e in result.evidence}
    assert {"lbs_consistent", "poi_consistent"} <= codes


def test_a_vpn_is_not_outvoted_by_passing_sub_checks(tmp_path: Path):
    result = _run(GeoAnalyzer(full_config(tmp_path)), with_(SHOP_GEO, ip="81.2.69.142"))
    assert result.verdict.decision is Decision.REVIEW
    assert result.verdict.checks[Check.LBS].status is CheckStatus.CONTRADICTED
    assert result.verdict.checks[Check.POI].status is CheckStatus.SUPPORTED
    reason = next(r for r in result.verdict.reasons if r.check is Check.LBS)
    ids = {e.id: e.code for e in result.evidence}
    assert {"ip_anonymizer", "ip_country_mismatch"} <= {ids[i] for i in reason.evidence_ids}


def test_spoofed_fixes_reject_through_the_hard_gate(tmp_path: Path):
    result = _run(GeoAnalyzer(full_config(tmp_path)),
                  scenario("spoofed_perfect_fixes")["geo"])
    assert result.verdict.decision is Decision.REJECT
    assert "gps_spoofed" in {r.code for r in result.verdict.reasons}


def test_permission_denied_is_a_review_never_a_crash(tmp_path: Path):
    result = _run(GeoAnalyzer(full_config(tmp_path)),
                  with_(SHOP_GEO, gps={"error": "permission_denied"}))
    assert result.verdict.decision is Decision.REVIEW
    assert result.stats[0].errors == 0
    assert result.verdict.checks[Check.POI].status is not CheckStatus.SUPPORTED
    assert "gps_missing" in {e.code for e in result.evidence}


def test_no_geo_input_is_not_checked(tmp_path: Path):
    result = _run(GeoAnalyzer(full_config(tmp_path)), {})
    assert result.verdict.checks[Check.LBS].status is CheckStatus.NOT_CHECKED
    assert result.verdict.checks[Check.POI].status is CheckStatus.NOT_CHECKED
    assert {e.code for e in result.evidence} == {"geo_input_missing"}


def test_the_session_id_of_the_interview_is_what_the_history_remembers(tmp_path: Path):
    analyzer = GeoAnalyzer(full_config(tmp_path))
    _run(analyzer, SHOP_GEO, session_id="interview-42")
    rows = analyzer.checker.resources.store.same_person("x", SHOP_GEO["applicant_id"], None, 0)
    assert [r.session_id for r in rows] == ["interview-42"]
