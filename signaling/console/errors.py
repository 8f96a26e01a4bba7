"""Errors of the console API; each maps to the status and ``code`` of the console contract."""

from __future__ import annotations

from verification.errors import RetryLaterError, VerificationError


class NotAuthenticatedError(VerificationError):
    code = "not_authenticated"
    http_status = 401


class InvalidCredentialsError(VerificationError):
    code = "invalid_credentials"
    http_status = 401


class TooManyAttemptsError(RetryLaterError):
    code = "too_many_attempts"
    http_status = 429


class CsrfError(VerificationError):
    code = "csrf"
    http_status = 403


class ForbiddenRoleError(VerificationError):
    code = "forbidden"
    http_status = 403


class FourEyesError(VerificationError):
    code = "four_eyes"
    http_status = 403


class ClaimedError(VerificationError):
    code = "claimed"
    http_status = 409


class DecidedMeanwhileError(VerificationError):
    code = "decided_meanwhile"
    http_status = 409


class NoVerdictError(VerificationError):
    code = "no_verdict"
    http_status = 409


class MediaNotFoundError(VerificationError):
    code = "media_not_found"
    http_status = 404
