"""Silero VAD v6: the wheel already ships ONNX; record it with goldens from the package's own jit.

Run: ``cd /work/main && /work/convenv/bin/python -m models.convert.silero_vad``

The ONNX graph is stored unchanged (``onnx.load`` + ``record_model``'s save). It is stateful
through its inputs: ``input`` (batch, 64 context + 512 new samples), ``state`` (2, batch, 128),
``sr`` (int64 scalar, 16000) -> ``output`` (batch, 1) speech probability and ``stateN``.
The reference runtime is ``silero_vad.jit`` (``torch.jit.load``), which keeps the same state and
64-sample context inside the module; the golden step is taken mid-utterance, with the jit's own
state and context after 40 chunks of real speech, so it exercises a non-trivial state.

Besides the one golden step, every chunk of three LibriSpeech utterances is run through both the
jit and the ONNX with our own context handling (what ``verification.voice.vad`` does), and the
package's ``get_speech_timestamps_from_probs`` is compared with our segmenter.
"""

from __future__ import annotations

import sys

import numpy as np
import onnx
import onnxruntime as ort
import soundfile as sf
import torch

from models.convert._common import REPO, SHARED_MEDIA, fetch_pypi, record_model, sha256_of

PACKAGE = "silero-vad==6.2.3"
WEIGHT_PATH = "silero_vad/data/silero_vad.onnx"
JIT_PATH = "silero_vad/data/silero_vad.jit"
SR = 16_000
CHUNK = 512
CONTEXT = 64
GOLDEN_STEP = 40  # chunks of speech fed before the recorded step (1.28 s)
UTTERANCES = [
    "librispeech/1998/1998-15444-0007.flac",
    "librispeech/2033/2033-164914-0005.flac",
    "librispeech/1688/1688-142285-0002.flac",
]
# A 30 s two-speaker conversation with pauses: a harder check of the segmenter.
CONVERSATION = "two_speakers/sample.wav"


def read_16k(rel: str) -> np.ndarray:
    wav, sr = sf.read(str(SHARED_MEDIA / "speech" / rel), dtype="float32")
    if sr != SR or wav.ndim != 1:
        raise ValueError(f"{rel}: expected 16 kHz mono, got {sr} Hz, shape {wav.shape}")
    return wav


def chunks_of(wav: np.ndarray) -> np.ndarray:
    """Zero-pad to a multiple of 512 and split, as get_speech_timestamps does."""
    pad = (-wav.size) % CHUNK
    return np.pad(wav, (0, pad)).reshape(-1, CHUNK)


def jit_probs(jit, wav: np.ndarray) -> np.ndarray:
    jit.reset_states()
    return np.array([jit(torch.from_numpy(c), SR).item() for c in chunks_of(wav)], dtype=np.float32)


def onnx_probs(session: ort.InferenceSession, wav: np.ndarray) -> np.ndarray:
    state = np.zeros((2, 1, 128), np.float32)
    context = np.zeros(CONTEXT, np.float32)
    probs = []
    for chunk in chunks_of(wav):
        x = np.concatenate([context, chunk])[None]
        out, state = session.run(None, {"input": x, "state": state, "sr": np.array(SR, np.int64)})
        context = x[0, -CONTEXT:]
        probs.append(float(out[0, 0]))
    return np.array(probs, dtype=np.float32)


def main() -> None:
    package_dir = fetch_pypi(PACKAGE)
    onnx_file = package_dir / WEIGHT_PATH
    model = onnx.load(str(onnx_file))
    jit = torch.jit.load(str(package_dir / JIT_PATH), map_location="cpu").eval()
    torch.set_num_threads(1)

    # Golden: a batch of three streams, stepped GOLDEN_STEP chunks into real speech by the jit.
    wavs = [read_16k(rel) for rel in UTTERANCES]
    batch = np.stack([chunks_of(w)[: GOLDEN_STEP + 1] for w in wavs])  # (3, 41, 512)
    with torch.no_grad():
        jit.reset_states()
        for step in range(GOLDEN_STEP):
            jit(torch.from_numpy(batch[:, step]), SR)
        state_in = jit._state.detach().numpy().copy()
        context_in = jit._context.detach().numpy().copy()
        new_chunk = batch[:, GOLDEN_STEP]
        prob = jit(torch.from_numpy(new_chunk), SR).detach().numpy().copy()
        state_out = jit._state.detach().numpy().copy()
    golden_inputs = {
        "input": np.concatenate([context_in, new_chunk], axis=1).astype(np.float32),
        "state": state_in.astype(np.float32),
        "sr": np.array(SR, dtype=np.int64),
    }
    golden_outputs = {"output": prob.astype(np.float32), "stateN": state_out.astype(np.float32)}
    print("golden step speech probabilities (jit):", prob.ravel())

    # Whole utterances, chunk by chunk: jit vs ONNX with our own context handling.
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    sys.path.insert(0, str(package_dir))
    from silero_vad.utils_vad import get_speech_timestamps_from_probs

    sys.path.insert(0, str(REPO))
    from verification.voice.vad import SegmenterConfig, segment_probabilities

    stream_diff = 0.0
    for rel, wav in zip([*UTTERANCES, CONVERSATION], [*wavs, read_16k(CONVERSATION)], strict=True):
        with torch.no_grad():
            ref = jit_probs(jit, wav)
        ours = onnx_probs(session, wav)
        stream_diff = max(stream_diff, float(np.max(np.abs(ref - ours))))
        theirs = get_speech_timestamps_from_probs(ref.tolist(), sampling_rate=SR,
                                                  audio_length_samples=wav.size)
        segs = segment_probabilities(ref, wav.size, SegmenterConfig(), sample_rate=SR)
        mine = [{"start": s.start_sample, "end": s.end_sample} for s in segs]
        print(f"{rel}: {len(ref)} chunks, mean prob {ref.mean():.3f}; {len(mine)} segments "
              f"{mine[:3]}...; identical to the package's: {theirs == mine}")
        if theirs != mine:
            raise SystemExit("segmenter disagrees with get_speech_timestamps_from_probs")
    print(f"per-chunk probability max abs diff jit vs ONNX over {len(wavs) + 1} recordings: "
          f"{stream_diff:.3g}")

    record_model(
        "vad",
        model=model,
        task="voice_activity_detection",
        adapter="verification.voice.vad:SileroVad",
        description="Silero VAD v6 (stateful LSTM over 512-sample chunks at 16 kHz), the ONNX "
                    "file shipped in the silero-vad wheel, unchanged.",
        preprocessing="16 kHz mono float32 in [-1, 1]; 512-sample chunks, each prefixed with the "
                      "last 64 samples of the previous model input (zeros at stream start); "
                      "carry `stateN` into `state` per stream; sr = 16000 (int64 scalar).",
        licence="MIT",
        licence_note="silero-vad wheel (MIT licence, Silero Team); the model files are part of "
                     "the package.",
        source={"registry": "pypi", "package": PACKAGE, "path": WEIGHT_PATH,
                "sha256": sha256_of(onnx_file)},
        converter="models/convert/silero_vad.py (native ONNX, copied unchanged)",
        reference_runtime="torch.jit silero_vad.jit from the same wheel (torch 2.13 CPU)",
        golden_inputs=golden_inputs,
        golden_outputs=golden_outputs,
        golden_atol=1e-4,
        weights_float16=False,
        dynamic_batch=True,
        extra={
            "sample_rate": SR,
            "chunk_samples": CHUNK,
            "context_samples": CONTEXT,
            "state_shape": [2, 128],
            "threshold": 0.5,
            "neg_threshold": 0.35,
            "stream_probability_max_abs_diff_vs_jit": stream_diff,
        },
    )


if __name__ == "__main__":
    main()
