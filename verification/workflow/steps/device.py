"""Device check and location permission: the first steps, answered by the page itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verification.workflow.events import DeviceReport, Event, GeoReport, Tick
from verification.workflow.steps.base import StepContext, Update, completed, failed


def _device_outcome(report: Mapping[str, Any]):  # noqa: ANN202
    missing = [name for name in ("camera", "microphone") if not report.get(name)]
    if missing:
        return failed("device_missing", f"no {' or '.join(missing)} available",
                      missing=missing, network=report.get("network"))
    return completed("device_ok", f"camera and microphone working, network "
                     f"{report.get('network', 'unknown')}", network=report.get("network"),
                     **dict(report.get("details", {})))


class DeviceCheck:
    """Passes when the page reports a working camera and microphone (the driver sends the
    report once media from both has arrived, so "working" means frames reached the server)."""

    def begin(self, ctx: StepContext, previous: Mapping[str, Any] | None, mode: str) -> Update:
        sub = {"deadline": ctx.at + ctx.spec.timeout_s}
        effects = [ctx.prompt("none", ctx.opening_text(mode))]
        report = ctx.facts.get("device")
        if report is not None and _device_outcome(report).result == "completed":
            return sub, effects, _device_outcome(report)  # media already arrived
        return sub, effects, None

    def handle(self, ctx: StepContext, sub: Mapping[str, Any], event: Event) -> Update:
        if isinstance(event, DeviceReport):
            return dict(sub), [], _device_outcome(ctx.facts["device"])
        if isinstance(event, Tick) and event.at >= sub["deadline"]:
            return dict(sub), [], failed("device_check_timeout",
                                         "camera and microphone were not confirmed in time")
        return dict(sub), [], None


class Geolocation:
    """Asks the page for the position. Denied or no answer is recorded, not failed: location
    is one check among many, and the location analyzer turns its absence into a review
    reason."""

    def begin(self, ctx: StepContext, previous: Mapping[str, Any] | None, mode: str) -> Update:
        sub = {"deadline": ctx.at + ctx.spec.timeout_s}
        effects = [ctx.prompt("permission", ctx.opening_text(mode),
                              data={"request": "geolocation"})]
        geo = ctx.facts.get("geo")
        if geo is not None:
            return sub, effects, self._outcome(geo)
        return sub, effects, None

    @staticmethod
    def _outcome(geo: Mapping[str, Any]):  # noqa: ANN205
        if geo.get("granted"):
            return completed("geolocation_granted", "location shared",
                             accuracy_m=geo.get("accuracy_m"))
        return completed("geolocation_denied", "location permission denied")

    def handle(self, ctx: StepContext, sub: Mapping[str, Any], event: Event) -> Update:
        if isinstance(event, GeoReport):
            return dict(sub), [], self._outcome(ctx.facts["geo"])
        if isinstance(event, Tick) and event.at >= sub["deadline"]:
            return dict(sub), [], completed("geolocation_no_answer",
                                            "no location received in time")
        return dict(sub), [], None
