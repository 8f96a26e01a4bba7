"""Errors the user can act on.

Every error a person can cause or fix (a tampered model file, an unreadable recording, a photo
without a face) is a :class:`VerificationError` with a one-line message; the CLI prints that line
and exits non-zero, the HTTP edge maps it to a 4xx with a machine-readable ``code``. Anything else
is a bug and is logged with its traceback on the server side only.
"""

from __future__ import annotations


class VerificationError(Exception):
    """Base class: ``code`` is stable and machine-readable, ``str(err)`` is for people."""

    code = "verification_error"


class RetryLaterError(VerificationError):
    """A refusal that ends by itself: the HTTP edge sends ``Retry-After: retry_after_s``
    (rate limits, a spent failure budget, a full server)."""

    code = "retry_later"
    http_status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ModelError(VerificationError):
    code = "model_error"


class ModelNotFoundError(ModelError):
    code = "model_not_found"


class ModelFileMissingError(ModelError):
    code = "model_file_missing"


class ModelIntegrityError(ModelError):
    code = "model_integrity"


class ManifestError(ModelError):
    code = "manifest_invalid"


class ProviderUnavailableError(ModelError):
    code = "provider_unavailable"


class UnreadableMediaError(VerificationError):
    """A recording, image or audio file that cannot be decoded."""

    code = "unreadable"


class InvalidInputError(VerificationError):
    code = "invalid_input"
