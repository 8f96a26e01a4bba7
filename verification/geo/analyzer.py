"""The geo stage as a session analyzer: LBS and POI evidence for every interview.

The geo inputs (``SessionContext.geo``: GPS fix, client IP, browser time zone, declared
business) are fixed at session creation, so the stream takes no media: it runs the checks once
in :meth:`summarize` (in the executor, like all analyzer work) and hands the session one
conclusion per geo check plus every sub-check that did not support (see
:mod:`verification.geo.outcome`). A session without geo input gets explicit ``not_checked``
evidence for both checks rather than silence.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from verification.geo.checker import GeoChecker
from verification.geo.config import GeoConfig
from verification.pipeline.analyzer import Analyzer, AnalyzerStream, SessionContext
from verification.runtime import InferenceExecutor
from verification.types import Check, Evidence, Outcome, TimeWindow

log = logging.getLogger(__name__)


class GeoStream(AnalyzerStream):
    def __init__(self, checker: GeoChecker, context: SessionContext,
                 executor: InferenceExecutor) -> None:
        super().__init__("geo", executor)
        self._checker = checker
        self._context = context

    def summarize(self) -> Iterable[Evidence]:
        window = TimeWindow(0.0, 0.0)
        if not self._context.geo:
            return [Evidence(check, Outcome.NOT_CHECKED, window,
                             "no geo input (GPS, IP, time zone, declared business) was given",
                             code="geo_input_missing") for check in (Check.LBS, Check.POI)]
        report = self._checker.check(self._context.geo, session_id=self._context.session_id,
                                     window=window)
        log.info("geo %s: %s (%s) in %.2f ms", report.session_id, report.outcome.value,
                 ", ".join(r.code for r in report.reasons) or "no reasons", report.latency_ms)
        return report.session_evidence(window)


class GeoAnalyzer(Analyzer):
    """Holds the geo databases and indexes (loaded once); opens a cheap stream per session."""

    name = "geo"
    checks = (Check.LBS, Check.POI)

    def __init__(self, config: GeoConfig | None = None,
                 checker: GeoChecker | None = None) -> None:
        self.checker = checker or GeoChecker.from_config(config or GeoConfig.from_env())

    def open_stream(self, context: SessionContext, executor: InferenceExecutor) -> AnalyzerStream:
        return GeoStream(self.checker, context, executor)
