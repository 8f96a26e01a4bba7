"""Resemblyzer GE2E speaker encoder -> ONNX (``speaker_embedding``), plus the mel front-end golden.

Run: ``cd /work/main && /work/convenv/bin/python -m models.convert.ge2e_speaker``

The network (3-layer LSTM 40->256, Linear 256->256, ReLU, L2 normalisation of the last layer's
final hidden state) is rebuilt here in torch and loads ``resemblyzer/pretrained.pt`` from the
wheel (the two GE2E loss parameters ``similarity_weight/bias`` are training-only and skipped).
Reference runtime: the package's own ``VoiceEncoder`` (imported from the unpacked wheel; it needs
librosa, webrtcvad and scipy from this environment).

Checks printed here:

* numpy mel (``verification.voice.mel``) vs ``librosa.feature.melspectrogram`` (max abs / rel diff);
* ONNX on librosa mel partials vs ``VoiceEncoder.forward`` (recorded as the golden diff);
* the whole run-time path (numpy mel + the shipped float16-weight ONNX + partial averaging in
  ``verification.voice.speaker``) vs ``VoiceEncoder.embed_utterance`` on the same
  volume-normalised wav (cosine per utterance).

Weights are stored as float16 (5.7 -> 2.9 MB; computed in float32): the embedding moves by
about 4e-4 (outputs up to 0.3), a cosine change of about 1e-6, far below speaker margins.

It also writes ``tests/data/golden/speaker_mel.npz`` (a volume-normalised speech wav and
librosa's mel frames of it) so a run-time test can check our numpy mel without librosa.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import soundfile as sf
import torch
from torch import nn

from models.convert._common import (
    GOLDEN_DIR,
    REPO,
    SHARED_MEDIA,
    fetch_pypi,
    record_model,
    sha256_of,
    store_weights_as_float16,
)

PACKAGE = "resemblyzer==0.1.4"
WEIGHT_PATH = "resemblyzer/pretrained.pt"
SR = 16_000
PARTIAL_FRAMES = 160
N_MELS = 40
GOLDEN_UTTERANCE = "librispeech/2033/2033-164914-0005.flac"
MEL_GOLDEN_UTTERANCE = "librispeech/1998/1998-15444-0007.flac"
CHECK_UTTERANCES = [
    "librispeech/1998/1998-15444-0007.flac",
    "librispeech/1998/1998-15444-0008.flac",
    "librispeech/2033/2033-164914-0004.flac",
    "librispeech/2033/2033-164914-0005.flac",
    "librispeech/1688/1688-142285-0002.flac",
    "librispeech/1688/1688-142285-0009.flac",
    "librispeech/2609/2609-156975-0004.flac",  # 18 s: many partials
]


class Ge2eEncoder(nn.Module):
    """GE2E d-vector network, written from the architecture description (not copied)."""

    def __init__(self, n_mels: int = N_MELS, hidden: int = 256, layers: int = 3,
                 embedding: int = 256) -> None:
        super().__init__()
        self.lstm = nn.LSTM(n_mels, hidden, layers, batch_first=True)
        self.linear = nn.Linear(hidden, embedding)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        raw = torch.relu(self.linear(hidden[-1]))
        return raw / torch.linalg.vector_norm(raw, dim=1, keepdim=True)


def read_16k(rel: str) -> np.ndarray:
    wav, sr = sf.read(str(SHARED_MEDIA / "speech" / rel), dtype="float32")
    if sr != SR or wav.ndim != 1:
        raise ValueError(f"{rel}: expected 16 kHz mono, got {sr} Hz, shape {wav.shape}")
    return wav


class _OrtModel:
    """Just enough of verification.runtime.OnnxModel for the adapter check (no manifest yet)."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.spec = None

    def run(self, feeds):
        from types import SimpleNamespace

        names = [o.name for o in self.session.get_outputs()]
        outs = self.session.run(names, feeds)
        return SimpleNamespace(outputs=dict(zip(names, outs, strict=True)), latency_ms=0.0)


def main() -> None:
    package_dir = fetch_pypi(PACKAGE)
    weights = package_dir / WEIGHT_PATH
    sys.path.insert(0, str(package_dir))
    sys.path.insert(0, str(REPO))
    import librosa
    from resemblyzer import VoiceEncoder, normalize_volume, wav_to_mel_spectrogram

    from verification.voice import mel as np_mel
    from verification.voice.speaker import Ge2eSpeakerEncoder, cosine_similarity

    torch.set_num_threads(2)
    reference = VoiceEncoder("cpu", verbose=False).eval()

    checkpoint = torch.load(str(weights), map_location="cpu")
    state = {k: v for k, v in checkpoint["model_state"].items()
             if not k.startswith("similarity_")}
    model = Ge2eEncoder().eval()
    model.load_state_dict(state, strict=True)

    # 1. numpy mel vs librosa on real, volume-normalised speech.
    mel_diff = mel_rel = 0.0
    for rel in CHECK_UTTERANCES:
        wav = normalize_volume(read_16k(rel), -30, increase_only=True).astype(np.float32)
        ref = wav_to_mel_spectrogram(wav)  # librosa, (frames, 40)
        ours = np_mel.mel_frames(wav)
        mel_diff = max(mel_diff, float(np.max(np.abs(ref - ours))))
        mel_rel = max(mel_rel, float(np.max(np.abs(ref - ours) / (np.abs(ref) + 1e-3))))
    print(f"numpy mel vs librosa {librosa.__version__}: max abs diff {mel_diff:.3g}, "
          f"max rel diff {mel_rel:.3g} (over {len(CHECK_UTTERANCES)} utterances)")
    mel_wav = normalize_volume(read_16k(MEL_GOLDEN_UTTERANCE), -30,
                               increase_only=True).astype(np.float32)
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(GOLDEN_DIR / "speaker_mel.npz", wav=mel_wav,
                        mel_frames=wav_to_mel_spectrogram(mel_wav),
                        librosa_version=np.array(librosa.__version__))

    # 2. Golden: all partials of one utterance, mels by librosa (the package's own front end).
    wav = normalize_volume(read_16k(GOLDEN_UTTERANCE), -30, increase_only=True).astype(np.float32)
    wav_slices, mel_slices = VoiceEncoder.compute_partial_slices(len(wav), 1.3, 0.75)
    wav = np.pad(wav, (0, max(0, wav_slices[-1].stop - len(wav))))
    frames = wav_to_mel_spectrogram(wav)
    mels = np.stack([frames[s] for s in mel_slices]).astype(np.float32)
    with torch.no_grad():
        ref_embeds = reference(torch.from_numpy(mels)).numpy()
        ours_embeds = model(torch.from_numpy(mels)).numpy()
    rebuild_diff = float(np.max(np.abs(ref_embeds - ours_embeds)))
    print(f"rebuilt torch vs VoiceEncoder: max abs diff {rebuild_diff:.3g}")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ge2e.onnx"
        torch.onnx.export(
            model, (torch.from_numpy(mels),), str(path), input_names=["mels"],
            output_names=["embedding"], dynamic_axes={"mels": {0: "batch"},
                                                      "embedding": {0: "batch"}},
            opset_version=17, dynamo=False,
        )
        onnx_model = onnx.load(str(path))
        # Check the file as it will ship: weights stored as float16 (computed in float32).
        shipped = onnx.ModelProto()
        shipped.CopyFrom(onnx_model)
        onnx.save(store_weights_as_float16(shipped), str(path))

        # 3. Whole run-time path vs the package's embed_utterance, same normalised wav.
        encoder = Ge2eSpeakerEncoder(_OrtModel(path))
        worst = 1.0
        for rel in CHECK_UTTERANCES:
            raw = read_16k(rel)
            ref_embed = reference.embed_utterance(
                normalize_volume(raw, -30, increase_only=True).astype(np.float32))
            ours = encoder.embed_utterance(raw)
            cos = cosine_similarity(ours.vector, ref_embed)
            worst = min(worst, cos)
            print(f"{rel}: {ours.n_partials} partials, "
                  f"1 - cosine(ONNX+numpy mel, resemblyzer.embed_utterance) = {1 - cos:.2e}")
        print(f"worst embed_utterance cosine vs resemblyzer: 1 - {1 - worst:.2e}")

    record_model(
        "speaker_embedding",
        model=onnx_model,
        task="speaker_embedding",
        adapter="verification.voice.speaker:Ge2eSpeakerEncoder",
        description="Resemblyzer GE2E speaker encoder (3-layer LSTM 40->256, Linear 256->256, "
                    "ReLU, L2 norm) over 1.6 s partials of 40-band mel frames.",
        preprocessing="16 kHz mono float32; volume-normalise to -30 dBFS (increase only); power "
                      "mel spectrogram (librosa defaults: n_fft 400, hop 160, 40 Slaney mels, "
                      "centred zero-padded Hann STFT, power 2; not log) as (frames, 40); partials "
                      "of 160 frames every 77 frames (rate 1.3/s, last kept if >= 75% covered, "
                      "audio zero-padded); utterance embedding = L2-normalised mean of partials.",
        licence="Apache-2.0",
        licence_note="resemblyzer wheel classifies as Apache Software License (Resemble AI, "
                     "Corentin Jemine); pretrained.pt ships inside the package.",
        source={"registry": "pypi", "package": PACKAGE, "path": WEIGHT_PATH,
                "sha256": sha256_of(weights)},
        converter="models/convert/ge2e_speaker.py (torch rebuild + torch.onnx.export, opset 17)",
        reference_runtime="resemblyzer.VoiceEncoder (the package's torch module, torch 2.13 CPU)",
        golden_inputs={"mels": mels},
        golden_outputs={"embedding": ref_embeds},
        golden_atol=1e-3,  # fp16 weight storage: about 4e-4 on outputs up to 0.3
        weights_float16=True,
        dynamic_batch=True,
        extra={
            "sample_rate": SR,
            "partial_frames": PARTIAL_FRAMES,
            "n_mels": N_MELS,
            "n_fft": 400,
            "hop_length": 160,
            "partials_per_second": 1.3,
            "min_coverage": 0.75,
            "volume_target_dbfs": -30.0,
            "numpy_mel_max_abs_diff_vs_librosa": mel_diff,
            "numpy_mel_max_rel_diff_vs_librosa": mel_rel,
            "embed_utterance_min_cosine_vs_resemblyzer": worst,
        },
    )


if __name__ == "__main__":
    main()
