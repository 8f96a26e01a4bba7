"""The console's static pages obey the rules the browser test cannot see on every machine
(it skips without Chromium): no inline script, handler or style (the CSP refuses them), nothing
from outside the server, every referenced file present, the element ids the contract promises,
and a label for every form field."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "signaling" / "static" / "console"
PAGES = ["index.html", "session.html", "live.html", "live_session.html"]
CONTRACT_IDS = {
    "index.html": {"queue", "filter-product", "filter-reason", "username", "password"},
    "session.html": {"recording", "timeline", "reasons", "decide-approve", "decide-reject",
                     "decision-note", "decision-confirm", "id-photo", "reference-frame",
                     "match-score", "face-match", "location", "related", "notes", "note-text"},
    "live.html": {"live-list"},
    "live_session.html": {"live-video", "live-events", "live-message", "live-send"},
}
EXTERNAL = re.compile(r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}""", re.IGNORECASE)


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_script = False
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_script = True


def parse(name: str) -> Page:
    page = Page()
    page.feed((STATIC / name).read_text(encoding="utf-8"))
    return page


@pytest.mark.parametrize("name", PAGES)
def test_page_has_no_inline_code_and_nothing_external(name):
    page = parse(name)
    assert not page.inline_script
    for tag, attrs in page.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        assert "style" not in attrs, (tag, attrs)
        if tag == "script":
            assert attrs.get("type") == "module" and attrs.get("src"), attrs
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            assert not EXTERNAL.match(value), (tag, value)
            if value.startswith("/console/static/"):
                assert (STATIC / value.removeprefix("/console/static/")).is_file(), value


@pytest.mark.parametrize("name", PAGES)
def test_page_has_the_contract_ids_and_labelled_fields(name):
    page = parse(name)
    ids = {attrs.get("id") for _, attrs in page.tags}
    assert CONTRACT_IDS[name] <= ids, CONTRACT_IDS[name] - ids
    labelled = {attrs.get("for") for tag, attrs in page.tags if tag == "label"}
    for tag, attrs in page.tags:
        if tag in ("input", "select", "textarea"):
            assert attrs.get("id") in labelled or attrs.get("aria-label"), (tag, attrs)


def test_scripts_fetch_only_this_server_and_set_no_inline_style():
    for script in STATIC.glob("*.js"):
        text = script.read_text(encoding="utf-8")
        assert not EXTERNAL.search(text.replace("http://www.w3.org/2000/svg", "")), script.name
        assert "innerHTML" not in text, script.name  # data goes in as text nodes only
        assert "setAttribute('style'" not in text, script.name
        for module in re.findall(r"""from\s+'\./([\w.]+)'""", text):
            assert (STATIC / module).is_file(), (script.name, module)
