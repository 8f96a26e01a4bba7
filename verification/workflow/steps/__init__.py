"""Step handlers by kind (see :mod:`verification.workflow.steps.base`)."""

from __future__ import annotations

from verification.workflow.steps.base import StepHandler
from verification.workflow.steps.confirmation import Confirmation
from verification.workflow.steps.device import DeviceCheck, Geolocation
from verification.workflow.steps.digits import Digits
from verification.workflow.steps.done import Done
from verification.workflow.steps.face import FaceQualityGate
from verification.workflow.steps.liveness import Liveness
from verification.workflow.steps.questions import Questions

HANDLERS: dict[str, StepHandler] = {
    "device_check": DeviceCheck(),
    "geolocation": Geolocation(),
    "confirmation": Confirmation(),
    "face_quality": FaceQualityGate(),
    "liveness": Liveness(),
    "digits": Digits(),
    "questions": Questions(),
    "done": Done(),
}
