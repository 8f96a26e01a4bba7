"""Optical flow on face chips and the *transient* part of it: movement that comes and goes.

Why: a micro-expression is a brief movement away from the face's resting state and back
(onset - apex - offset within about half a second). Following the feature-difference idea of
micro-expression spotting (compare each frame with the frames half an interval before and after
it), the flow from the centre frame ``c`` to the frame ``k`` seconds *before* (``u1``) and to the
frame ``k`` seconds *after* (``u2``) tells the three kinds of movement apart per pixel:

* a brief movement that returns (the apex is at ``c``, both neighbours rest): ``u1 ~ u2``;
* a slow drift or a head turn: ``u1 ~ -u2``;
* the start or end of a lasting expression (an ordinary smile): one of them is ~0.

:func:`transient` keeps ``max(0, |u1 + u2| / 2 - |u1 - u2| / 2)``, which is the displacement for
the first kind and zero for the other two. Residual head motion that the rigid alignment left
(the mesh jitters by a fraction of a pixel) is removed first by fitting an affine motion to the
rigid skin (forehead, nose ridge, cheekbones) and subtracting it from the whole field.

Optical strain (the symmetric part of the flow's gradient) is reported with each region: it is
large where skin stretches or compresses (lip press, brow knit) and insensitive to translation.
Flow is OpenCV's DIS (Kroeger et al. 2016), "medium" preset by default: about 1-3 ms per flow on
a 128-px chip ("fast" is about 3x cheaper; ``benchmarks/eval_expression.py`` compares them).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from verification.expression.regions import CHIP_IOD_PX, REGION_NAMES, FaceChip

MOVING_QUANTILE = 0.9


@dataclass(frozen=True)
class RegionMotion:
    """Transient movement of one region at a centre frame, in inter-ocular distances (IOD)."""

    amplitude: float  # mean transient displacement over the moving part of the region (IOD)
    strain: float  # mean optical strain magnitude of the transient field (dimensionless)
    direction: tuple[float, float]  # mean movement rest -> apex (dx, dy) in IOD, y down


@dataclass(frozen=True)
class ChipMotion:
    """Transient movement of every region at one centre frame, and how steady the head was."""

    pts: float
    regions: dict[str, RegionMotion]
    rigid_residual: float  # RMS rigid-skin flow before its affine was removed (IOD): head motion
    span: float  # seconds between the two neighbour frames used


PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
           "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
           "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


def make_flow(preset: str = "medium") -> cv2.DISOpticalFlow:
    """A DIS flow engine (one per stream: OpenCV algorithm objects are not thread-safe)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown DIS preset {preset!r} (known: {', '.join(PRESETS)})")
    return cv2.DISOpticalFlow_create(PRESETS[preset])


def dense_flow(engine: cv2.DISOpticalFlow, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``(H, W, 2)`` displacement ``f`` with ``source(x) ~ target(x + f(x))``."""
    return engine.calc(source, target, None)


def remove_affine(flow: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float]:
    """Subtract the affine motion fitted (least squares) to ``flow`` over ``mask``.

    Returns the corrected flow and the RMS magnitude of the masked flow before correction
    (pixels). With too few masked pixels the flow is returned unchanged (and NaN).
    """
    ys, xs = np.nonzero(mask)
    if len(xs) < 12:
        return flow, float("nan")
    step = max(1, len(xs) // 600)
    ys, xs = ys[::step], xs[::step]
    design = np.stack([xs, ys, np.ones_like(xs)], axis=1).astype(np.float64)
    values = flow[ys, xs].astype(np.float64)  # (n, 2)
    coef, *_ = np.linalg.lstsq(design, values, rcond=None)  # (3, 2)
    rms = float(np.sqrt((values ** 2).sum(axis=1).mean()))
    h, w = flow.shape[:2]
    gx = np.arange(w, dtype=np.float32)[None, :]
    gy = np.arange(h, dtype=np.float32)[:, None]
    out = np.empty_like(flow)
    for k in range(2):
        c = coef[:, k].astype(np.float32)
        out[..., k] = flow[..., k] - (c[0] * gx + c[1] * gy + c[2])
    return out, rms


def transient(u1: np.ndarray, u2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel transient magnitude and the common displacement ``(u1 + u2) / 2``."""
    common = (u1 + u2) * np.float32(0.5)
    half_diff = (u1 - u2) * np.float32(0.5)
    magnitude = np.hypot(common[..., 0], common[..., 1]) - \
        np.hypot(half_diff[..., 0], half_diff[..., 1])
    return np.maximum(magnitude, 0.0), common


def strain_magnitude(field: np.ndarray) -> np.ndarray:
    """Optical strain ``sqrt(exx^2 + eyy^2 + 2 exy^2)`` of a displacement field."""
    du_dy, du_dx = np.gradient(field[..., 0])
    dv_dy, dv_dx = np.gradient(field[..., 1])
    exy = 0.5 * (du_dy + dv_dx)
    return np.sqrt(du_dx ** 2 + dv_dy ** 2 + 2.0 * exy ** 2)


def _region(box: tuple[int, int, int, int], magnitude: np.ndarray, common: np.ndarray,
            strain: np.ndarray, exclude: np.ndarray | None) -> RegionMotion:
    x0, y0, x1, y1 = box
    if x1 - x0 < 2 or y1 - y0 < 2:
        return RegionMotion(0.0, 0.0, (0.0, 0.0))
    mag = magnitude[y0:y1, x0:x1]
    keep = np.ones(mag.shape, bool) if exclude is None else ~exclude[y0:y1, x0:x1]
    if keep.sum() < 4:
        return RegionMotion(0.0, 0.0, (0.0, 0.0))
    values = mag[keep]
    # The moving part of a region is small (a lip corner, the inner brow): average the most
    # moving tenth of the region's pixels rather than all of them, so a local movement is not
    # diluted by the still skin around it.
    cut = np.partition(values, int(MOVING_QUANTILE * (len(values) - 1)))[
        int(MOVING_QUANTILE * (len(values) - 1))]
    moving = keep & (mag >= cut)
    amplitude = float(values[values >= cut].mean()) / CHIP_IOD_PX
    # ``common`` points from the centre (apex) frame back to the resting neighbours; the
    # movement itself goes the other way.
    direction = -common[y0:y1, x0:x1][moving].mean(axis=0) / CHIP_IOD_PX
    strain_value = float(strain[y0:y1, x0:x1][moving].mean())
    return RegionMotion(amplitude, strain_value, (float(direction[0]), float(direction[1])))


def chip_motion(engine: cv2.DISOpticalFlow, before: FaceChip, centre: FaceChip,
                after: FaceChip) -> ChipMotion:
    """The transient movement of every region at ``centre`` against its two neighbours."""
    u1 = dense_flow(engine, centre.gray, before.gray)
    u2 = dense_flow(engine, centre.gray, after.gray)
    u1, rms1 = remove_affine(u1, centre.reference_mask)
    u2, rms2 = remove_affine(u2, centre.reference_mask)
    magnitude, common = transient(u1, u2)
    strain = strain_magnitude(common)
    regions = {}
    for name in REGION_NAMES:
        exclude = centre.iris_mask if name.startswith("eye_") else None
        regions[name] = _region(centre.boxes[name], magnitude, common, strain, exclude)
    residual = float(np.nanmax([rms1, rms2, 0.0])) / CHIP_IOD_PX
    return ChipMotion(pts=centre.pts, regions=regions, rigid_residual=residual,
                      span=after.pts - before.pts)
