"""Errors of the data-protection layer: each is something an operator can act on."""

from __future__ import annotations

from verification.errors import VerificationError


class KeyConfigError(VerificationError):
    """The master key is missing or malformed in the configuration."""

    code = "master_key_invalid"


class WrongKeyError(VerificationError):
    """The object was encrypted under a master key that is not configured."""

    code = "master_key_unknown"


class TamperedObjectError(VerificationError):
    """Authentication failed: the stored bytes were changed, truncated or belong elsewhere."""

    code = "object_tampered"


class ObjectNotFoundError(VerificationError):
    code = "object_not_found"


class AuditChainError(VerificationError):
    """The audit log's hash chain is broken (an entry was edited, inserted or removed)."""

    code = "audit_chain_broken"


class AccountError(VerificationError):
    code = "account_invalid"


class PermissionDeniedError(VerificationError):
    """The authenticated user's role does not allow the action (HTTP 403)."""

    code = "forbidden"
    http_status = 403
