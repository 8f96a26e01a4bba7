"""Derive the head-pose reference shape of ``verification.face.geometry`` from the London set.

Why: head pose is the rotation that maps a frontal reference face onto the observed 3D mesh
(orthogonal Procrustes). The reference must be a *frontal* face in the mesh's own coordinates
(x right, y down, z away from the camera, MediaPipe's relative depth scaled like x). We take
the rigid, expression-free part of the mesh (forehead, nose ridge, eye corners, cheekbones,
temples; no lips, jaw or brows) from all 69 neutral London portraits (CC BY 4.0; studio
photos taken looking into the camera), centre and scale each shape to unit RMS radius, average
them, and make the result mirror-symmetric (x -> -x with left/right landmarks swapped). So
"zero pose" is defined as the average studio portrait looking into the camera, and yaw/roll
zero is the face's own symmetry plane.

    .venv/bin/python -m models.convert.face_pose_template     # prints the constant to paste

Uses the project runtime (detector + mesh adapters); reads ../shared/media directly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from verification.face.geometry import POSE_MIDLINE, POSE_PAIRS, pose_landmark_indices
from verification.runtime import ModelRegistry
from verification.video.images import load_image

LONDON = Path(__file__).resolve().parents[3] / "shared" / "media" / "faces" / "london"


def mesh_of(image: np.ndarray, detector, mesh) -> np.ndarray:
    faces = detector.detect(image)
    landmarks = mesh.landmarks(image, faces[0])
    # One tracking step re-frames the crop as MediaPipe does on video.
    return mesh.landmarks(image, mesh.next_roi(landmarks)).points.astype(np.float64)


def derive_template(shapes: list[np.ndarray]) -> np.ndarray:
    indices = pose_landmark_indices()
    normalised = []
    for points in shapes:
        subset = points[list(indices)]
        centred = subset - subset.mean(axis=0)
        normalised.append(centred / np.sqrt((centred ** 2).sum(axis=1).mean()))
    mean = np.mean(normalised, axis=0)
    position = {index: row for row, index in enumerate(indices)}
    mirrored = mean.copy()
    for right, left in POSE_PAIRS:
        mirrored[position[right]] = mean[position[left]]
        mirrored[position[left]] = mean[position[right]]
    mirrored[:, 0] *= -1.0
    symmetric = (mean + mirrored) / 2.0
    for index in POSE_MIDLINE:
        symmetric[position[index], 0] = 0.0
    symmetric -= symmetric.mean(axis=0)
    return symmetric / np.sqrt((symmetric ** 2).sum(axis=1).mean())


def main() -> None:
    registry = ModelRegistry.from_manifest(provider="cpu")
    detector, mesh = registry.adapter("face_detector"), registry.adapter("face_mesh")
    files = sorted(LONDON.glob("*_neutral.jpg"))
    template = derive_template([mesh_of(load_image(f), detector, mesh) for f in files])
    print(f"# from {len(files)} neutral London portraits")
    print("POSE_TEMPLATE = np.array([")
    for row in template:
        print(f"    [{row[0]:.4f}, {row[1]:.4f}, {row[2]:.4f}],")
    print("])")


if __name__ == "__main__":
    main()
