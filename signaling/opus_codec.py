"""libopus through ctypes: decoding with in-band FEC, which neither aiortc nor PyAV exposes.

Why: a browser that sends Opus with in-band FEC (``useinbandfec=1`` in our answer) puts a
low-bitrate copy of frame N (SILK "LBRR" data) inside packet N+1. When N is lost and N+1
arrives, ``opus_decode(..., decode_fec=1)`` on N+1 rebuilds N. aiortc decodes Opus with PyAV's
``libopus`` decoder, which has no such call, so a lost packet is simply lost audio.

The library is the ``libopus`` PyAV's wheel bundles (``av.libs/``; PyAV is already a dependency),
else the system's. Nothing here is specific to WebRTC; :class:`OpusFecDecoder` is what
:mod:`signaling.aiortc_patches` decodes received audio with (at 16 kHz mono, the analysers'
format), :class:`OpusEncoder` is used by tests and benchmarks to produce FEC-carrying streams
from real speech.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import logging
import os
from functools import lru_cache

import numpy as np

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
MAX_FRAME_SAMPLES = 5760  # 120 ms at 48 kHz: the longest Opus packet
APPLICATION_VOIP = 2048
BANDWIDTH_WIDEBAND = 1103
_SET_BITRATE = 4002
_SET_MAX_BANDWIDTH = 4004
_SET_COMPLEXITY = 4010
_SET_INBAND_FEC = 4012
_SET_PACKET_LOSS_PERC = 4014
_SET_DTX = 4016


class OpusUnavailable(RuntimeError):
    """No usable libopus (neither PyAV's bundled copy nor a system one)."""


def _candidates() -> list[str]:
    paths: list[str] = []
    try:
        import av

        libs = os.path.join(os.path.dirname(os.path.dirname(av.__file__)), "av.libs")
        paths += sorted(glob.glob(os.path.join(libs, "libopus*.so*")))
    except ImportError:  # pragma: no cover - PyAV is a dependency
        pass
    system = ctypes.util.find_library("opus")
    if system:
        paths.append(system)
    return paths


@lru_cache(maxsize=1)
def libopus() -> ctypes.CDLL:
    """The loaded library with the prototypes this module uses (cached; raises if absent).

    Loaded as ``PyDLL``: calls keep the GIL. A 20 ms frame decodes in ~25 us on the event loop,
    and a ``CDLL`` call releases the GIL and must win it back from the analysis threads, which
    under load costs far more than the decode itself (up to the 5 ms switch interval, per frame).
    """
    for path in _candidates():
        try:
            lib = ctypes.PyDLL(path)
        except OSError:
            continue
        if not all(hasattr(lib, name) for name in ("opus_decoder_create", "opus_decode")):
            continue
        lib.opus_decoder_create.restype = ctypes.c_void_p
        lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int,
                                            ctypes.POINTER(ctypes.c_int)]
        lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
        lib.opus_decode.restype = ctypes.c_int
        lib.opus_decode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32,
                                    ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        lib.opus_packet_get_nb_samples.restype = ctypes.c_int
        lib.opus_packet_get_nb_samples.argtypes = [ctypes.c_char_p, ctypes.c_int32,
                                                   ctypes.c_int32]
        lib.opus_encoder_create.restype = ctypes.c_void_p
        lib.opus_encoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.c_int,
                                            ctypes.POINTER(ctypes.c_int)]
        lib.opus_encoder_destroy.argtypes = [ctypes.c_void_p]
        lib.opus_encode.restype = ctypes.c_int32
        lib.opus_encode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                    ctypes.c_char_p, ctypes.c_int32]
        if hasattr(lib, "opus_packet_has_lbrr"):  # libopus >= 1.5
            lib.opus_packet_has_lbrr.restype = ctypes.c_int
            lib.opus_packet_has_lbrr.argtypes = [ctypes.c_char_p, ctypes.c_int32]
        return lib
    raise OpusUnavailable("libopus not found (PyAV's bundled copy or the system library)")


def available() -> bool:
    try:
        libopus()
    except OpusUnavailable:
        return False
    return True


def fec_detectable() -> bool:
    """Whether this libopus can tell if a packet carries FEC data (libopus >= 1.5)."""
    return available() and hasattr(libopus(), "opus_packet_has_lbrr")


def packet_samples(packet: bytes) -> int:
    """Samples per channel at 48 kHz in one Opus packet (0 if it cannot be parsed)."""
    if not packet:
        return 0
    n = libopus().opus_packet_get_nb_samples(packet, len(packet), SAMPLE_RATE)
    return n if n > 0 else 0


def has_fec(packet: bytes) -> bool:
    """Whether the packet carries LBRR (in-band FEC) data for the frame before it.

    With a libopus older than 1.5 (no ``opus_packet_has_lbrr``) this reports False: recovery is
    then never claimed, and a lost frame stays marked as lost.
    """
    lib = libopus()
    if not packet or not hasattr(lib, "opus_packet_has_lbrr"):
        return False
    return lib.opus_packet_has_lbrr(packet, len(packet)) == 1


DECODE_RATES = (8_000, 12_000, 16_000, 24_000, 48_000)  # what opus_decoder_create accepts


class OpusFecDecoder:
    """A libopus decoder (``channels`` interleaved s16 at ``sample_rate``) with FEC and loss
    concealment.

    libopus decodes at any of :data:`DECODE_RATES` natively (SILK speech is produced at its
    internal 8-16 kHz rate, CELT is decimated inside the decoder), so asking for the rate and
    channel count the consumer wants costs less than decoding 48 kHz stereo and resampling.
    Frame sizes passed to :meth:`decode_fec` and :meth:`conceal` are in samples *at this
    decoder's rate*; :func:`packet_samples` (and RTP timestamps) count 48 kHz samples, which
    :meth:`samples_at_rate` converts.
    """

    def __init__(self, channels: int = 2, sample_rate: int = SAMPLE_RATE) -> None:
        if sample_rate not in DECODE_RATES:
            raise ValueError(f"libopus cannot decode at {sample_rate} Hz")
        self.channels = channels
        self.sample_rate = sample_rate
        error = ctypes.c_int(0)
        self._lib = libopus()
        self._state = self._lib.opus_decoder_create(sample_rate, channels, ctypes.byref(error))
        if not self._state or error.value != 0:
            raise OpusUnavailable(f"opus_decoder_create failed ({error.value})")
        self._max_samples = self.samples_at_rate(MAX_FRAME_SAMPLES)
        self._pcm = np.zeros(self._max_samples * channels, np.int16)

    def samples_at_rate(self, samples_48k: int) -> int:
        """A duration in 48 kHz samples (RTP clock, packet_samples) at this decoder's rate."""
        return samples_48k * self.sample_rate // SAMPLE_RATE

    def _run(self, data: bytes | None, frame_size: int, fec: bool) -> np.ndarray:
        if not self._state:
            raise ValueError("opus decoder already closed")
        n = self._lib.opus_decode(self._state, data, len(data) if data else 0,
                                  self._pcm.ctypes.data, frame_size, 1 if fec else 0)
        if n < 0:
            raise ValueError(f"opus_decode failed ({n})")
        return self._pcm[:n * self.channels].reshape(n, self.channels).copy()

    def decode(self, packet: bytes) -> np.ndarray:
        """(samples, channels) int16 of one received packet."""
        return self._run(packet, self._max_samples, fec=False)

    def decode_fec(self, next_packet: bytes, frame_size: int) -> np.ndarray:
        """The lost frame *before* ``next_packet``, rebuilt from its LBRR data (``frame_size``
        samples at this decoder's rate; libopus falls back to concealment if the packet has no
        LBRR)."""
        return self._run(next_packet, frame_size, fec=True)

    def conceal(self, frame_size: int) -> np.ndarray:
        """Packet loss concealment for ``frame_size`` samples at this decoder's rate
        (extrapolated, not received)."""
        return self._run(None, frame_size, fec=False)

    def close(self) -> None:
        _destroy(self, "opus_decoder_destroy")

    __del__ = close


def _destroy(owner: OpusFecDecoder | OpusEncoder, function: str) -> None:
    """Free a libopus state once (``close`` and ``__del__`` may both call this)."""
    state = getattr(owner, "_state", None)
    if state:
        getattr(owner._lib, function)(state)
        owner._state = None


class OpusEncoder:
    """A mono libopus VoIP encoder configured like a WebRTC sender (tests and benchmarks)."""

    def __init__(self, bitrate: int, *, fec: bool = True, loss_percent: int = 0,
                 complexity: int = 9, dtx: bool = False,
                 max_bandwidth: int = BANDWIDTH_WIDEBAND) -> None:
        error = ctypes.c_int(0)
        self._lib = libopus()
        self._state = self._lib.opus_encoder_create(SAMPLE_RATE, 1, APPLICATION_VOIP,
                                                    ctypes.byref(error))
        if not self._state or error.value != 0:
            raise OpusUnavailable(f"opus_encoder_create failed ({error.value})")
        for request, value in ((_SET_BITRATE, bitrate), (_SET_INBAND_FEC, int(fec)),
                               (_SET_PACKET_LOSS_PERC, loss_percent),
                               (_SET_COMPLEXITY, complexity), (_SET_DTX, int(dtx)),
                               (_SET_MAX_BANDWIDTH, max_bandwidth)):
            result = self._lib.opus_encoder_ctl(ctypes.c_void_p(self._state),
                                                ctypes.c_int(request), ctypes.c_int32(value))
            if result != 0:
                raise ValueError(f"opus_encoder_ctl({request}, {value}) failed ({result})")
        self._out = ctypes.create_string_buffer(1500)

    def encode(self, pcm: np.ndarray) -> bytes:
        """One packet from a 20 ms (960-sample) mono int16 frame at 48 kHz."""
        frame = np.ascontiguousarray(pcm, np.int16)
        n = self._lib.opus_encode(self._state, frame.ctypes.data, len(frame), self._out, 1500)
        if n < 0:
            raise ValueError(f"opus_encode failed ({n})")
        return self._out.raw[:n]

    def close(self) -> None:
        _destroy(self, "opus_encoder_destroy")

    __del__ = close
