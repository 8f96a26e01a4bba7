"""The whole per-frame face stage, for the comparison with MediaPipe's own FaceLandmarker.

Same work as the Tasks API in IMAGE mode with ``num_faces=1`` and blendshapes on: detect, mesh
the best face, blendshapes. It cycles through the same images the reference script times
(every .jpg/.png in tests/data/faces), so the ratio compares like with like.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

from verification.video.images import load_image


def face_pipeline_case(registry, data_dir: Path) -> Callable[[], object]:
    detector = registry.adapter("face_detector")
    mesh = registry.adapter("face_mesh")
    blendshapes = registry.adapter("face_blendshapes")
    files = sorted(p for p in (data_dir / "faces").iterdir() if p.suffix.lower() in {".jpg", ".png"})
    frames = itertools.cycle([load_image(p) for p in files])

    def run() -> object:
        image = next(frames)
        faces = detector.detect(image, max_faces=1)
        if not len(faces):
            return None
        landmarks = mesh.landmarks(image, faces[0])
        return blendshapes.scores(landmarks) if landmarks.present else None

    return run


CASES = {"face_pipeline": face_pipeline_case}
