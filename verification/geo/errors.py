"""Geo configuration errors: a database or data file that is configured but unusable."""

from __future__ import annotations

from verification.errors import VerificationError


class GeoDataError(VerificationError):
    """A configured geo data file is missing, unreadable or of the wrong kind; the message
    names the file and the setting it came from."""

    code = "geo_data"
