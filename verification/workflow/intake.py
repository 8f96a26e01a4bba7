"""Validating a new interview request from the loan system, before anything is stored.

Why strict and early: a session created with a photo that shows no face, an unreachable
callback URL or a malformed business address fails *later*, in front of the applicant or in a
lost webhook. Every rejection has a stable machine-readable ``code`` the loan system can act on
(``id_photo_no_face``, ``id_photo_unreadable``, ``callback_url_invalid``, ...).
"""

from __future__ import annotations

import ipaddress
import json
import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import numpy as np

from verification.errors import UnreadableMediaError, VerificationError
from verification.video.images import decode_image
from verification.workflow.products import ProductCatalog, UnknownProductError
from verification.workflow.script import LOCALES

MAX_ID_PHOTO_BYTES = 10 * 1024 * 1024
MAX_VOICEPRINT_BYTES = 20 * 1024 * 1024
MIN_VOICEPRINT_S = 1.0
MIN_ID_PHOTO_SIDE = 64


class IntakeError(VerificationError):
    """A request the loan system must correct; ``code`` says what."""

    http_status = 422

    def __init__(self, code: str, message: str, http_status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status


@dataclass(frozen=True)
class Upload:
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(frozen=True)
class SessionRequest:
    """The fields of ``POST /v1/sessions`` as received (JSON fields still as text)."""

    application_id: str
    applicant_name: str
    loan_product: str
    declared_business: str
    id_photo: Upload | None
    callback_url: str | None = None
    locale: str | None = None
    loan_terms: str | None = None
    voiceprint: Upload | None = None


@dataclass(frozen=True)
class ValidSession:
    application_id: str
    applicant_name: str
    loan_product: str
    declared_business: dict[str, Any]
    callback_url: str | None
    locale: str
    loan_terms: dict[str, Any] | None
    id_photo: Upload
    id_photo_faces: int
    voiceprint: Upload | None
    warnings: tuple[str, ...]


class FaceCounter(Protocol):
    def count_faces(self, image: np.ndarray) -> int: ...


class RegistryFaceCounter:
    """Faces confirmed by the mesh's presence score (BlazeFace alone fires on clutter), the
    way :mod:`verification.face.presence` and MediaPipe's own graph confirm them."""

    def __init__(self, registry: Any) -> None:
        self._registry = registry

    def count_faces(self, image: np.ndarray) -> int:
        detector = self._registry.adapter("face_detector")
        mesh = self._registry.adapter("face_mesh")
        return sum(int(mesh.landmarks(image, face).present) for face in detector.detect(image))


def _text(value: str | None, field: str, max_len: int, required: bool = True) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise IntakeError(f"{field}_invalid", f"{field} is required")
        return None
    if len(value) > max_len or any(ord(c) < 32 for c in value):
        raise IntakeError(f"{field}_invalid", f"{field}: at most {max_len} printable characters")
    return value


def _json_object(text: str | None, field: str) -> dict[str, Any] | None:
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError as err:
        raise IntakeError(f"{field}_invalid", f"{field}: not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise IntakeError(f"{field}_invalid", f"{field}: expected a JSON object")
    return value


def _finite(value: Any, lo: float, hi: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) and lo <= value <= hi else None


def parse_declared_business(text: str | None) -> dict[str, Any]:
    """``{"type", "address", optional "coordinates": {"lat", "lon"}}``."""
    raw = _json_object(text, "declared_business")
    if raw is None:
        raise IntakeError("declared_business_invalid", "declared_business is required")
    out: dict[str, Any] = {}
    for key, limit in (("type", 128), ("address", 512)):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise IntakeError("declared_business_invalid",
                              f"declared_business.{key}: a non-empty string (<= {limit} chars)")
        out[key] = value.strip()
    coordinates = raw.get("coordinates")
    if coordinates is not None:
        if not isinstance(coordinates, Mapping):
            raise IntakeError("declared_business_invalid",
                              "declared_business.coordinates: expected {\"lat\", \"lon\"}")
        lat = _finite(coordinates.get("lat"), -90, 90)
        lon = _finite(coordinates.get("lon"), -180, 180)
        if lat is None or lon is None:
            raise IntakeError("declared_business_invalid",
                              "declared_business.coordinates: lat in [-90, 90], lon in "
                              "[-180, 180]")
        out["coordinates"] = {"lat": lat, "lon": lon}
    return out


def parse_callback_url(text: str | None) -> str | None:
    """An absolute http(s) URL with a host and no credentials or fragment."""
    if text is None or not text.strip():
        return None
    url = text.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise IntakeError("callback_url_invalid", "callback_url: not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise IntakeError("callback_url_invalid",
                          "callback_url: expected an absolute http:// or https:// URL")
    if parts.username or parts.password or parts.fragment or len(url) > 2048:
        raise IntakeError("callback_url_invalid",
                          "callback_url: no credentials or fragment, at most 2048 characters")
    if port == 0 or any(c.isspace() for c in url):
        raise IntakeError("callback_url_invalid", "callback_url: not a valid URL")
    try:
        ipaddress.ip_address(parts.hostname)
    except ValueError:
        if not all(label and len(label) <= 63 for label in parts.hostname.split(".")):
            raise IntakeError("callback_url_invalid", "callback_url: invalid host name") from None
    return url


def parse_loan_terms(text: str | None, required: bool) -> dict[str, Any] | None:
    raw = _json_object(text, "loan_terms")
    if raw is None:
        if required:
            raise IntakeError("loan_terms_missing", "this loan product's interview shows the "
                              "loan terms: loan_terms is required")
        return None
    amount = _finite(raw.get("amount"), 0, 1e12)
    rate = _finite(raw.get("annual_rate_pct"), 0, 1000)
    months = raw.get("term_months")
    fees = raw.get("fees", 0)
    currency = raw.get("currency", "CNY")
    if amount is None or amount <= 0 or rate is None or isinstance(months, bool) \
            or not isinstance(months, int) or not 0 < months <= 600:
        raise IntakeError("loan_terms_invalid", "loan_terms: amount > 0, annual_rate_pct >= 0 "
                          "and term_months (1-600) are required")
    if not isinstance(currency, str) or not (1 <= len(currency) <= 8):
        raise IntakeError("loan_terms_invalid", "loan_terms.currency: a currency code")
    if _finite(fees, 0, 1e12) is None and not (isinstance(fees, str) and len(fees) <= 200):
        raise IntakeError("loan_terms_invalid", "loan_terms.fees: a number >= 0 or a text")
    return {"amount": amount, "annual_rate_pct": rate, "term_months": months, "fees": fees,
            "currency": currency}


def check_id_photo(upload: Upload | None, faces: FaceCounter) -> tuple[int, tuple[str, ...]]:
    if upload is None or not upload.data:
        raise IntakeError("id_photo_missing", "id_photo: an image file is required")
    if len(upload.data) > MAX_ID_PHOTO_BYTES:
        raise IntakeError("id_photo_too_large",
                          f"id_photo: at most {MAX_ID_PHOTO_BYTES // (1024 * 1024)} MB", 413)
    try:
        image = decode_image(upload.data, "id_photo")
    except UnreadableMediaError as err:
        raise IntakeError("id_photo_unreadable", str(err)) from None
    if min(image.shape[:2]) < MIN_ID_PHOTO_SIDE:
        raise IntakeError("id_photo_unreadable",
                          f"id_photo: at least {MIN_ID_PHOTO_SIDE} pixels on each side")
    count = faces.count_faces(image)
    if count == 0:
        raise IntakeError("id_photo_no_face", "id_photo: no face found in the image")
    warnings = (f"id_photo shows {count} faces; the largest is used",) if count > 1 else ()
    return count, warnings


def check_voiceprint(upload: Upload | None) -> Upload | None:
    if upload is None or not upload.data:
        return None
    if len(upload.data) > MAX_VOICEPRINT_BYTES:
        raise IntakeError("voiceprint_too_large",
                          f"voiceprint: at most {MAX_VOICEPRINT_BYTES // (1024 * 1024)} MB", 413)
    from verification.voice.audio_io import read_audio_16k

    suffix = Path(upload.filename or "voiceprint").suffix[:8] or ".bin"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"voiceprint{suffix}"
        path.write_bytes(upload.data)
        try:
            samples = read_audio_16k(path)
        except VerificationError as err:
            raise IntakeError("voiceprint_unreadable", f"voiceprint: {err}") from None
        except Exception:  # decoders raise their own types on garbage
            raise IntakeError("voiceprint_unreadable",
                              "voiceprint: not a readable audio file") from None
    if len(samples) < MIN_VOICEPRINT_S * 16_000:
        raise IntakeError("voiceprint_too_short",
                          f"voiceprint: at least {MIN_VOICEPRINT_S:.0f} s of audio")
    return upload


def validate(request: SessionRequest, catalog: ProductCatalog, faces: FaceCounter) -> ValidSession:
    """Cheap checks first; the ID photo's face detection last."""
    application_id = _text(request.application_id, "application_id", 128)
    applicant_name = _text(request.applicant_name, "applicant_name", 256)
    try:
        product = catalog.get((request.loan_product or "").strip())
    except UnknownProductError as err:
        raise IntakeError("loan_product_unknown", str(err)) from None
    locale = (request.locale or "").strip() or "zh-CN"
    if locale not in LOCALES:
        raise IntakeError("locale_unsupported",
                          f"locale: one of {', '.join(LOCALES)}, not {locale!r}")
    declared = parse_declared_business(request.declared_business)
    callback = parse_callback_url(request.callback_url)
    shows_terms = any(s.param("show_terms") for s in product.script.steps)
    terms = parse_loan_terms(request.loan_terms, shows_terms)
    voiceprint = check_voiceprint(request.voiceprint)
    count, warnings = check_id_photo(request.id_photo, faces)
    assert application_id and applicant_name and request.id_photo is not None
    return ValidSession(application_id=application_id, applicant_name=applicant_name,
                        loan_product=product.name, declared_business=declared,
                        callback_url=callback, locale=locale, loan_terms=terms,
                        id_photo=request.id_photo, id_photo_faces=count, voiceprint=voiceprint,
                        warnings=warnings)
