"""Passthrough recording: real VP8/Opus packets (encoded from the GRID clip) -> Matroska without
re-encoding; a reconnect adds a segment; segments are joined; bad input never hangs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import av
import pytest

from signaling.recording import InterviewRecording, RecordedPacket, SegmentWriter, opus_packet_ms
from signaling.testmedia import encoded_packets

CLIP = Path(__file__).resolve().parents[1] / "data" / "video" / "bbaf2n.mpg"


@pytest.fixture(scope="module")
def packets():
    return list(encoded_packets(CLIP, seconds=3.0))


def feed(writer: SegmentWriter, packets, offset: float) -> None:
    for kind, data, t, key in packets:
        writer.submit(RecordedPacket(kind, "VP8" if kind == "video" else "opus", data,
                                     t + offset, key))


def decode_counts(path: Path) -> tuple[int, int, float, float]:
    with av.open(str(path)) as container:
        assert container.streams.video and container.streams.audio
        video = sum(1 for _ in container.decode(video=0))
    with av.open(str(path)) as container:
        audio = [f for f in container.decode(audio=0)]
    return video, len(audio), float(audio[0].pts * audio[0].time_base), float(
        audio[-1].pts * audio[-1].time_base)


def test_two_segments_are_joined_into_one_playable_recording(tmp_path: Path, packets):
    recording = InterviewRecording(tmp_path / "rec", started_wall=time.time())
    first = recording.new_segment(expect_video=True)
    feed(first, packets, offset=0.5)
    second = recording.new_segment(expect_video=True)  # the applicant reconnected
    feed(second, packets, offset=10.0)
    result = recording.finalize()
    assert result.joined and Path(result.path).name == "recording.mkv"
    n_video = sum(1 for p in packets if p[0] == "video")
    n_audio = sum(1 for p in packets if p[0] == "audio")
    video, audio, first_audio, last_audio = decode_counts(Path(result.path))
    assert video == 2 * n_video and audio == 2 * n_audio
    # the interview's media clock is kept: the reconnect gap is a gap in the timeline
    assert first_audio == pytest.approx(0.5, abs=0.05) and last_audio > 12.5
    manifest = json.loads((tmp_path / "rec" / "recording.json").read_text())
    assert [s["video_codec"] for s in manifest["segments"]] == ["VP8", "VP8"]
    assert manifest["segments"][0]["width"] == 320 and manifest["joined"] is True
    assert not list((tmp_path / "rec").glob("segment-*.mkv"))  # joined, segments removed


def test_audio_only_when_no_video_keyframe_arrives(tmp_path: Path, packets):
    recording = InterviewRecording(tmp_path / "rec", started_wall=time.time())
    writer = recording.new_segment(expect_video=False)
    for kind, data, t, key in packets:
        if kind == "video" and key:
            continue  # no keyframe ever: video cannot be recorded
        writer.submit(RecordedPacket(kind, "VP8" if kind == "video" else "opus", data, t, key))
    result = recording.finalize()
    with av.open(result.path) as container:
        assert not container.streams.video and container.streams.audio
        assert sum(1 for _ in container.decode(audio=0)) > 100


def test_nothing_received_gives_no_file_and_does_not_hang(tmp_path: Path):
    recording = InterviewRecording(tmp_path / "rec", started_wall=time.time())
    recording.new_segment(expect_video=True)
    result = recording.finalize()
    assert result.path is None and not result.joined
    assert json.loads((tmp_path / "rec" / "recording.json").read_text())["recording"] is None


def test_garbage_video_fails_the_segment_not_the_caller(tmp_path: Path):
    recording = InterviewRecording(tmp_path / "rec", started_wall=time.time())
    writer = recording.new_segment(expect_video=True)
    writer.submit(RecordedPacket("video", "VP8", b"\x00garbage", 0.0, keyframe=True))
    for i in range(2000):  # keeps submitting after the writer gave up: never blocks
        writer.submit(RecordedPacket("audio", "opus", b"\xfc\x00", i * 0.02))
    info = writer.close()
    assert info.error is not None


def test_opus_durations_from_the_toc_byte():
    assert opus_packet_ms(bytes([0xFC])) == 20  # CELT FB 20 ms, one frame
    assert opus_packet_ms(bytes([0x78])) == 20  # hybrid FB 20 ms (config 15)
    assert opus_packet_ms(bytes([0x19])) == 120  # SILK NB 60 ms, two frames (code 1)
    assert opus_packet_ms(b"") == 20
