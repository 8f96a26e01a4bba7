"""A real browser: headless Chromium (Debian package) plays the GRID clip as its fake camera and
microphone into the applicant page, which streams to `verification serve` on loopback.

Asserted server-side: a face is detected and speech is detected in the live media; the prompts
reach the page over the data channel; the passthrough recording plays back with both tracks;
the geolocation fix and its accuracy are stored. Also: a browser without WebRTC and a bad link
get clear messages.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import pytest

from signaling.testmedia import make_fake_capture
from tests.integration.browser_support import (
    CHROMIUM,
    CLIP,
    chromium_args,
    chromium_missing_reason,
    running_server,
)
from verification.protect.media import MediaVault

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(chromium_missing_reason() is not None,
                                 reason=chromium_missing_reason() or "")]

PROMPT_IDS = ["face_in_oval", "turn_head", "read_sentence", "state_name", "blink"]


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> tuple[Path, Path]:
    return make_fake_capture(CLIP, tmp_path_factory.mktemp("capture"), seconds=6.0,
                             width=320, height=240)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("server") / "data", prompt_time_scale=0.4,
                        media_timeout_s=8) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser(capture):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=chromium_args(*capture))
        yield browser
        browser.close()


def test_interview_in_headless_chromium(server, browser, tmp_path: Path):
    session = server.create_session("--locale", "zh-CN", "--reference", "loan-7")
    context = browser.new_context(permissions=["geolocation"], viewport={"width": 360,
                                                                         "height": 740},
                                  geolocation={"latitude": 31.2304, "longitude": 121.4737,
                                               "accuracy": 35})
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    page.goto(session["join_url"].replace("http://127.0.0.1:8000", server.url))
    assert page.text_content("#start") == "开始面谈"  # Chinese by default
    page.check("#consent")
    page.click("#start")
    # a function, not an expression: the page's CSP (no 'unsafe-eval') forbids compiling strings
    page.wait_for_function("() => window.__interview.prompts.length >= 1", timeout=30_000)
    page.screenshot(path=str(tmp_path / "live.png"))
    page.wait_for_function("() => window.__interview.done === true", timeout=60_000)
    state = page.evaluate("window.__interview")
    context.close()

    assert state["prompts"] == PROMPT_IDS, (state, console)
    assert not [m for m in console if "Content Security Policy" in m], console
    assert state["bitrate"]["maxFramerate"] == 15 and state["bitrate"]["maxBitrate"] <= 130_000
    assert state["guidance"], "guidance codes reach the page"
    assert state["lastStats"]["audioPacketsSent"] > 100

    record = server.wait_finished(session["id"])
    assert record["state"] == "finished" and record["end_reason"] == "completed", server.log()
    checks = record["verdict"]["checks"]
    assert checks["face_presence"]["status"] == "supported", record["verdict"]
    assert checks["speech_presence"]["status"] == "supported", record["verdict"]
    assert record["geo"]["accuracy_m"] == pytest.approx(35)
    assert record["geo"]["latitude"] == pytest.approx(31.2304)

    # encrypted at rest: read through the media vault (the key is in the server's data dir)
    recording = MediaVault.for_data_dir(server.log_path.parent).read_reference(
        record["recording"])
    with av.open(io.BytesIO(recording)) as container:
        assert container.streams.video[0].codec_context.name in ("vp8", "h264")
        duration_s = container.duration / 1e6
        video_frames = sum(1 for _ in container.decode(video=0))
    # the low-bitrate profile: a 90 s interview stays under 2 MB
    assert len(recording) / duration_s * 90 <= 2_000_000, (len(recording), duration_s)
    with av.open(io.BytesIO(recording)) as container:
        audio_frames = sum(1 for _ in container.decode(audio=0))
    assert video_frames > 60 and audio_frames > 100, (video_frames, audio_frames)
    assert "Traceback" not in server.log()


def test_browser_without_webrtc_is_told_so(server, browser):
    session = server.create_session()
    context = browser.new_context()
    context.add_init_script("delete window.RTCPeerConnection; "
                            "delete window.webkitRTCPeerConnection;")
    page = context.new_page()
    page.goto(f"{server.url}/join?lang=en#{session['token']}")
    assert page.evaluate("window.__interview.phase") == "unsupported"
    assert page.is_visible("#message") and "cannot do video" in page.text_content("#message")
    assert not page.is_visible("#start")
    context.close()


def test_bad_link_is_explained(server, browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server.url}/join?lang=en#not-a-real-token")
    page.check("#consent")
    page.click("#start")
    page.wait_for_selector("#message:not(.hidden)", timeout=10_000)
    assert "not valid" in page.text_content("#message-text")
    context.close()
