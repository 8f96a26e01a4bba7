"""Pure policies of the WebRTC edge: bandwidth AIMD, admission control, answer shaping, the
control-channel parser, prompt sequencing and interview lifecycle rules."""

from __future__ import annotations

import pytest

from signaling.bandwidth import PROFILES, BandwidthPolicy, ReceiveSample
from signaling.control import Geo, Hello, SenderStats, parse_page_message
from signaling.guidance import FaceView, choose_guidance
from signaling.load import AdmissionController, LoadSnapshot, percentile
from signaling.sdp import AnswerShape, shape_answer
from verification.workflow.interviews import (
    InterviewClosedError,
    InterviewExpiredError,
    InterviewService,
    InterviewState,
    UnknownInterviewError,
)
from verification.workflow.prompts import DEFAULT_PROMPTS, PromptSequencer


def sample(loss=0.0, freeze=0.0, resyncs=0, jitter=5.0) -> ReceiveSample:
    return ReceiveSample(1.0, 100, int(round(100 * (1 - loss))), jitter, freeze, 15.0, resyncs)


def test_bandwidth_backs_off_on_congestion_and_probes_back_up():
    policy = BandwidthPolicy(PROFILES["standard"], capture_height=480)
    first = policy.last
    assert first.target_bps == 300_000 and first.command_due
    decisions = [policy.update(sample(freeze=0.8)) for _ in range(3)]
    assert decisions[-1].target_bps < 0.4 * 300_000 and decisions[-1].quality == "poor"
    assert decisions[-1].scale_down_by == 2.0  # 480 -> 240 lines at low rates, never lower
    low = decisions[-1].target_bps
    held = [policy.update(sample()).target_bps for _ in range(3)]
    assert held == [low] * 3  # hold after a decrease
    later = [policy.update(sample()).target_bps for _ in range(20)]
    assert later[-1] > low * 2 and later == sorted(later)
    assert policy.update(sample(loss=0.05)).quality == "fair"  # random loss: hold, no probing


def test_low_profile_keeps_a_90_s_interview_under_2_mb():
    policy = BandwidthPolicy(PROFILES["low"], capture_height=240)
    rates = [policy.update(sample()).target_bps for _ in range(90)]
    audio = PROFILES["low"].audio_bps
    assert max(rates) + audio <= 150_000  # the analysis must work at 150 kbit/s total
    assert sum(r + audio for r in rates) / 8 <= 2_000_000
    assert policy.last.scale_down_by == 1.0


def test_page_commands_only_when_the_target_moves():
    policy = BandwidthPolicy(PROFILES["standard"])
    policy.update(sample())
    due = [policy.update(sample()).command_due for _ in range(10)]
    assert 0 < sum(due) < 10


def snapshot(sessions=0, warming=0, cpu=0.0, p95=None, lag=None) -> LoadSnapshot:
    return LoadSnapshot(sessions, warming, cpu, 0.06, lag, None, p95, 0)


def test_admission_predicts_latency_and_cpu():
    clock = [0.0]
    control = AdmissionController(max_sessions=12, latency_budget_ms=250, cpu_threshold=0.85,
                                  admission_interval_s=0.7, clock=lambda: clock[0])
    assert control.decide(snapshot()).admit
    burst = control.decide(snapshot(sessions=1, warming=1))
    assert not burst.admit and burst.retry_after_s == 1  # staggered set-ups
    clock[0] += 1
    for _ in range(30):  # learn: 8 settled sessions use 64 % of the machine
        control.observe(snapshot(sessions=8, cpu=0.64))
    assert control.cpu_per_session == pytest.approx(0.08, abs=0.005)
    ok = control.decide(snapshot(sessions=8, cpu=0.64, p95=120))
    assert ok.admit and ok.predicted_p95_ms == pytest.approx(120 * 0.36 / 0.28, rel=0.05)
    clock[0] += 1
    late = control.decide(snapshot(sessions=10, cpu=0.80, p95=150))  # 0.80 + 0.08 > 0.85
    assert not late.admit and late.retry_after_s > 1
    clock[0] += 1
    slow = control.decide(snapshot(sessions=5, cpu=0.40, p95=240))
    assert not slow.admit and "latency" in slow.reason
    clock[0] += 1
    assert not control.decide(snapshot(sessions=2, cpu=0.1, lag=80)).admit
    assert not control.decide(snapshot(sessions=12)).admit
    assert percentile([1, 2, 3, 4], 0.5) == 2.5 and percentile([], 0.5) is None


def test_admission_before_any_measurement_uses_the_measured_session_cost():
    # Nothing learnt yet: interviews still warming up count at the measured per-session cost
    # (~0.34 of a core = 0.17 of 2 cores), so a burst stops at what 2 cores can analyse.
    clock = [0.0]
    control = AdmissionController(max_sessions=16, latency_budget_ms=250, cpu_threshold=0.85,
                                  admission_interval_s=0.7, clock=lambda: clock[0])
    assert control.decide(snapshot(sessions=3, warming=3, cpu=0.05)).admit  # 0.05 + 4 x 0.17
    clock[0] += 1
    refused = control.decide(snapshot(sessions=4, warming=4, cpu=0.05))  # 0.05 + 5 x 0.17
    assert not refused.admit and "CPU" in refused.reason


def test_answer_is_shaped_for_low_bitrate():
    answer = ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
              "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\nb=AS:2000\r\n"
              "a=rtpmap:96 VP8/90000\r\n"
              "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
              "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n")
    shaped = shape_answer(answer, AnswerShape(150_000, 24_000))
    video, audio = shaped.split("m=audio")
    assert "b=TIAS:150000" in video and "b=AS:150" in video and "b=AS:2000" not in video
    fmtp = [line for line in audio.split("\r\n") if line.startswith("a=fmtp:111")]
    assert fmtp == ["a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1;stereo=0;sprop-stereo=0;"
                    "maxaveragebitrate=24000;maxplaybackrate=16000"]
    no_fmtp = answer.replace("a=fmtp:111 minptime=10;useinbandfec=1\r\n", "")
    assert "maxaveragebitrate=24000;maxplaybackrate=16000" in shape_answer(
        no_fmtp, AnswerShape(150_000))


@pytest.mark.parametrize("raw", [b"\xff\xfe", "[]", "{", "null", '{"type": "geo", "latitude": 1}',
                                 '{"type": "geo", "latitude": 91, "longitude": 0, "accuracy": 5}',
                                 '{"type": "nope"}', "x" * 5000,
                                 '{"type": "geo", "latitude": NaN, "longitude": 0, "accuracy": 1}'])
def test_control_parser_ignores_garbage(raw):
    assert parse_page_message(raw) is None


def test_control_parser_reads_page_messages():
    hello = parse_page_message('{"type":"hello","lang":"en","timezone":"Asia/Shanghai",'
                               '"capture":{"width":320,"height":240,"frameRate":15}}')
    assert hello == Hello(320, 240, 15.0, "en", "", "Asia/Shanghai")
    geo = parse_page_message('{"type":"geo","latitude":31.2,"longitude":121.5,"accuracy":12}')
    assert geo == Geo(31.2, 121.5, 12.0, None)
    stats = parse_page_message('{"type":"stats","audioPacketsSent":500,"roundTripMs":40,'
                               '"nested":{"x":1}}')
    assert isinstance(stats, SenderStats) and stats.audio_packets_sent == 500
    assert "nested" not in stats.values


def test_guidance_priorities():
    ok_face = FaceView(1, 0.3, 0.05)
    common = dict(video_age_s=0.1, audio_age_s=0.1, luma=120.0, network="good")
    assert choose_guidance(**{**common, "video_age_s": None}, face=None) == "no_video"
    assert choose_guidance(**{**common, "audio_age_s": 5.0}, face=ok_face) == "no_audio"
    assert choose_guidance(**{**common, "luma": 20.0}, face=ok_face) == "too_dark"
    assert choose_guidance(**common, face=FaceView(0, 0, 0)) == "no_face"
    assert choose_guidance(**common, face=FaceView(2, 0.3, 0.0)) == "multiple_faces"
    assert choose_guidance(**common, face=FaceView(1, 0.05, 0.0)) == "move_closer"
    assert choose_guidance(**common, face=FaceView(1, 0.3, 0.4)) == "center_face"
    assert choose_guidance(**{**common, "network": "poor"}, face=ok_face) == "weak_network"
    assert choose_guidance(**common, face=ok_face) == "ok"


def test_prompt_sequence():
    sequencer = PromptSequencer()
    assert sequencer.position(0).step.id == DEFAULT_PROMPTS[0].id
    assert sequencer.position(DEFAULT_PROMPTS[0].seconds + 0.1).index == 1
    assert sequencer.position(sequencer.total_seconds).done
    with pytest.raises(ValueError):
        PromptSequencer(())
    assert all(p.zh and p.en for p in DEFAULT_PROMPTS)


def test_interview_lifecycle():
    now = [1000.0]
    service = InterviewService(clock=lambda: now[0])
    record, token = service.create(ttl_s=60, reference="app-1")
    assert record.token_sha256 != token and token not in str(record.to_json())
    assert service.authenticate(token).id == record.id
    with pytest.raises(UnknownInterviewError):
        service.authenticate("wrong")
    service.connected(record.id)
    service.interrupted(record.id)
    assert service.get(record.id).state is InterviewState.INTERRUPTED
    now[0] += 3600  # a started interview does not expire under the applicant
    assert service.authenticate(token).connections == 1
    service.finished(record.id, "completed", {"decision": "review"}, None)
    assert service.get(record.id).decision == "review"
    with pytest.raises(InterviewClosedError):
        service.authenticate(token)
    unused, unused_token = service.create(ttl_s=10)
    now[0] += 11
    assert [r.id for r in service.expire_stale()] == [unused.id]
    with pytest.raises(InterviewExpiredError):
        service.authenticate(unused_token)
