"""The applicant side of the console browser test is the browser interview test's: its fake
capture, Chromium and webhook receiver fixtures (module-scoped, so each module gets its own)."""

from tests.api.test_browser_interview import browser, capture, receiver  # noqa: F401
