"""Passthrough recording: the received VP8/H.264 frames and Opus packets, muxed into Matroska
without decoding or re-encoding.

aiortc's ``MediaRecorder`` decodes and re-encodes (about 40 % of a core per stream, and its WebM
encoder blocks the event loop for up to 190 ms); writing the compressed frames costs one small
file write per frame. Each connection of an interview writes one *segment*; timestamps are the
interview's media clock (seconds since the interview's media started, derived from arrival
time), so the evidence timeline and the recording line up, and the wall-clock start is stored in
the file's metadata and in ``recording.json``. When the interview ends, segments are joined into
``recording.mkv`` (stream copy; a reconnect gap is simply a gap in the timeline). If they cannot
be joined (the codec changed between connections) they stay as segments with an ffconcat
playlist.

Muxing runs in one writer thread per segment behind a bounded queue; the event loop only
enqueues (and counts what it had to drop when the disk is too slow).
"""

from __future__ import annotations

import io
import json
import logging
import queue
import struct
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av

log = logging.getLogger(__name__)

TIME_BASE = Fraction(1, 1000)  # Matroska's default timestamp scale: milliseconds
QUEUE_ITEMS = 1500  # ~15 s of 15 fps video + 50 packets/s audio: a stalled disk, not a leak
VIDEO_WAIT_S = 5.0  # how long to hold audio back while waiting for the first video keyframe
PREROLL_AUDIO = 300  # audio packets held at most while waiting (6 s at 20 ms)


@dataclass(frozen=True)
class RecordedPacket:
    kind: str  # "video" | "audio"
    codec: str  # "VP8" | "H264" | "opus"
    data: bytes
    pts_s: float  # interview media time
    keyframe: bool = False


@dataclass
class SegmentInfo:
    index: int
    file: str
    started_at: str  # wall clock (UTC ISO 8601) of the segment's first packet
    start_s: float | None = None
    end_s: float | None = None
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None
    video_frames: int = 0
    audio_packets: int = 0
    dropped: int = 0
    bytes: int = 0
    error: str | None = None


def _ivf(frame: bytes) -> bytes:
    """A one-frame IVF file: lets FFmpeg probe a VP8 keyframe's size for the stream template."""
    header = b"DKIF" + struct.pack("<HHIHHIIII", 0, 32, 0x30385056, 0, 0, 90000, 1, 1, 0)
    return header + struct.pack("<IQ", len(frame), 0) + frame


def opus_packet_ms(data: bytes) -> float:
    """Duration of one Opus packet from its TOC byte (RFC 6716 section 3.1)."""
    if not data:
        return 20.0
    config, code = data[0] >> 3, data[0] & 0x03
    if config < 12:
        frame_ms = (10, 20, 40, 60)[config % 4]
    elif config < 16:
        frame_ms = (10, 20)[config % 2]
    else:
        frame_ms = (2.5, 5, 10, 20)[config % 4]
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    else:
        count = data[1] & 0x3F if len(data) > 1 else 1
    return frame_ms * max(1, count)


class SegmentWriter:
    """One connection's worth of media -> one Matroska file, written by its own thread."""

    def __init__(self, path: Path, index: int, expect_video: bool, started_wall: float) -> None:
        self.path = path
        self.info = SegmentInfo(index, path.name, datetime.fromtimestamp(
            started_wall, UTC).isoformat(timespec="milliseconds"))
        self._expect_video = expect_video
        self._queue: queue.Queue[RecordedPacket | None] = queue.Queue(maxsize=QUEUE_ITEMS)
        self._thread = threading.Thread(target=self._run, name=f"recorder-{path.stem}",
                                        daemon=True)
        self._closed = False
        self._thread.start()

    def submit(self, packet: RecordedPacket) -> None:
        """Never blocks: the event loop calls this for every received frame."""
        if self._closed:
            return
        try:
            self._queue.put_nowait(packet)
        except queue.Full:
            self.info.dropped += 1

    def close(self) -> SegmentInfo:
        """Flush and finish the file (blocking: call it from a thread)."""
        self._closed = True
        while self._thread.is_alive():
            try:
                self._queue.put(None, timeout=0.1)
                break
            except queue.Full:
                continue  # the writer is busy (slow disk): keep offering the end marker
        self._thread.join()
        if self.path.exists():
            self.info.bytes = self.path.stat().st_size
        return self.info

    # -- writer thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        container = None
        try:
            container = self._write()
        except Exception as err:  # a broken recording must not take the interview down
            log.exception("recording segment %s failed", self.path)
            self.info.error = f"{type(err).__name__}: {err}"
        finally:
            self._closed = True  # after a failure, submit() stops queueing
            if container is not None:
                try:
                    container.close()
                except Exception as err:
                    self.info.error = self.info.error or f"close failed: {err}"
            while True:  # after a failure: drop whatever is still queued
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break

    def _write(self) -> av.container.OutputContainer | None:
        preroll: deque[RecordedPacket] = deque(maxlen=PREROLL_AUDIO)
        first_arrival: float | None = None
        muxer: _Muxer | None = None
        while True:
            try:
                item: RecordedPacket | None | object = self._queue.get(timeout=0.5)
            except queue.Empty:
                item = _IDLE
            if item is None:
                break
            if muxer is not None:
                if isinstance(item, RecordedPacket):
                    muxer.mux(item)
                continue
            # Before the header: hold audio back until the first video keyframe (its size and
            # codec parameters come from it), or give up on video after VIDEO_WAIT_S.
            if isinstance(item, RecordedPacket):
                first_arrival = first_arrival or time.monotonic()
                if item.kind == "audio":
                    preroll.append(item)
                elif item.keyframe:
                    muxer = _Muxer(self.path, self.info, item)
                    for packet in [*preroll, item]:
                        muxer.mux(packet)
                    continue
            video_late = first_arrival is not None and (
                not self._expect_video or time.monotonic() - first_arrival > VIDEO_WAIT_S)
            if video_late and preroll:
                muxer = _Muxer(self.path, self.info, None)
                for packet in preroll:
                    muxer.mux(packet)
        if muxer is None and preroll:
            muxer = _Muxer(self.path, self.info, None)
            for packet in preroll:
                muxer.mux(packet)
        return None if muxer is None else muxer.container


_IDLE = object()


class _Muxer:
    """An open Matroska file with a video stream (from a keyframe) and an Opus stream."""

    def __init__(self, path: Path, info: SegmentInfo, keyframe: RecordedPacket | None) -> None:
        self.info = info
        self.container = av.open(str(path), mode="w", format="matroska")
        self.container.metadata["creation_time"] = info.started_at
        self.container.metadata["title"] = f"interview segment {info.index}"
        self.streams: dict[str, av.stream.Stream] = {}
        if keyframe is not None:
            codec = keyframe.codec.upper()
            probe_bytes, fmt = (_ivf(keyframe.data), "ivf") if codec == "VP8" else (
                keyframe.data, "h264")
            with av.open(io.BytesIO(probe_bytes), format=fmt) as probe:
                # opaque=True: copy the codec parameters and open no encoder (this is a remux)
                video = self.container.add_stream_from_template(probe.streams.video[0],
                                                                opaque=True)
            video.time_base = TIME_BASE
            self.streams["video"] = video
            info.video_codec = codec
            info.width, info.height = video.width, video.height
        audio = self.container.add_stream("libopus", rate=48000)
        audio.layout = "mono"
        audio.time_base = TIME_BASE
        self.streams["audio"] = audio
        self._last_ms = {"video": -1, "audio": -1}

    def mux(self, item: RecordedPacket) -> None:
        stream = self.streams.get(item.kind)
        if stream is None:
            return  # video that arrived after an audio-only segment had started
        pts = max(int(round(item.pts_s * 1000)), self._last_ms[item.kind] + 1)
        self._last_ms[item.kind] = pts
        packet = av.Packet(item.data)
        packet.stream = stream
        packet.time_base = TIME_BASE
        packet.pts = packet.dts = pts
        if item.kind == "audio":
            packet.duration = int(round(opus_packet_ms(item.data)))
            self.info.audio_packets += 1
        else:
            packet.is_keyframe = item.keyframe
            self.info.video_frames += 1
        self.container.mux(packet)
        start = self.info.start_s
        self.info.start_s = pts / 1000 if start is None else min(start, pts / 1000)
        self.info.end_s = max(self.info.end_s or 0.0, pts / 1000)


@dataclass
class RecordingResult:
    path: str | None  # the joined recording, or the playlist when segments could not be joined
    segments: list[SegmentInfo] = field(default_factory=list)
    joined: bool = False


class InterviewRecording:
    """The segments of one interview, and joining them at the end."""

    def __init__(self, directory: Path, started_wall: float) -> None:
        self.directory = directory
        self.started_wall = started_wall
        self._segments: list[SegmentWriter] = []
        self._finished: list[SegmentInfo] = []
        directory.mkdir(parents=True, exist_ok=True)

    def new_segment(self, expect_video: bool) -> SegmentWriter:
        index = len(self._segments)
        writer = SegmentWriter(self.directory / f"segment-{index:03d}.mkv", index, expect_video,
                               time.time())
        self._segments.append(writer)
        return writer

    def discard(self) -> None:
        """Close the segments and remove the directory if nothing was recorded."""
        infos = [w.close() for w in self._segments]
        if all(i.video_frames + i.audio_packets == 0 for i in infos):
            for path in self.directory.glob("segment-*.mkv"):
                path.unlink(missing_ok=True)
            try:
                self.directory.rmdir()
            except OSError:
                pass

    def finalize(self) -> RecordingResult:
        """Close every segment, join them, write ``recording.json`` (blocking: use a thread)."""
        infos = [w.close() for w in self._segments]
        usable = [i for i in infos if i.video_frames + i.audio_packets > 0]
        result = RecordingResult(None, infos)
        target = self.directory / "recording.mkv"
        if usable:
            try:
                _join([self.directory / i.file for i in usable], target)
                result.path, result.joined = str(target), True
                for info in usable:
                    (self.directory / info.file).unlink(missing_ok=True)
            except Exception as err:
                log.warning("could not join the segments of %s (%s); keeping a playlist",
                            self.directory, err)
                target.unlink(missing_ok=True)
                playlist = self.directory / "recording.ffconcat"
                playlist.write_text("ffconcat version 1.0\n" + "".join(
                    f"file {i.file}\n" for i in usable))
                result.path = str(playlist)
        manifest = {
            "started_at": datetime.fromtimestamp(self.started_wall, UTC).isoformat(
                timespec="milliseconds"),
            "timestamps": "milliseconds of interview media time (0 = started_at)",
            "recording": Path(result.path).name if result.path else None,
            "joined": result.joined,
            "segments": [asdict(i) for i in infos],
        }
        (self.directory / "recording.json").write_text(json.dumps(manifest, indent=2))
        return result


def _join(paths: list[Path], target: Path) -> None:
    """Stream-copy the segments into one file; timestamps are already on one timeline."""
    inputs = [av.open(str(p)) for p in paths]
    try:
        video_codecs = {c.streams.video[0].codec_context.name for c in inputs if c.streams.video}
        if len(video_codecs) > 1:
            raise ValueError(f"video codec changed between segments: {sorted(video_codecs)}")
        with av.open(str(target), mode="w", format="matroska") as out:
            out.metadata.update(inputs[0].metadata)
            video_source = next((c.streams.video[0] for c in inputs if c.streams.video), None)
            streams = {}
            if video_source is not None:
                streams["video"] = out.add_stream_from_template(video_source, opaque=True)
            audio_source = next((c.streams.audio[0] for c in inputs if c.streams.audio), None)
            if audio_source is not None:
                streams["audio"] = out.add_stream_from_template(audio_source, opaque=True)
            for s in streams.values():
                s.time_base = TIME_BASE
            last = {"video": -1, "audio": -1}
            for container in inputs:
                for packet in container.demux():
                    kind = packet.stream.type
                    if packet.pts is None or kind not in streams:
                        continue
                    pts = int(round(float(packet.pts * packet.time_base) * 1000))
                    pts = max(pts, last[kind] + 1)
                    last[kind] = pts
                    packet.stream = streams[kind]
                    packet.time_base = TIME_BASE
                    packet.pts = packet.dts = pts
                    out.mux(packet)
    finally:
        for container in inputs:
            container.close()
