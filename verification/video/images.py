"""Still images (ID photos, reference frames): decode to RGB uint8 or fail with one clear error."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from verification.errors import UnreadableMediaError

MAX_IMAGE_BYTES = 25 * 1024 * 1024


def decode_image(data: bytes, label: str = "image") -> np.ndarray:
    """JPEG/PNG/WebP/BMP bytes -> RGB uint8 (H, W, 3), EXIF orientation applied."""
    if len(data) > MAX_IMAGE_BYTES:
        raise UnreadableMediaError(f"{label}: larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
    buffer = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(buffer, cv2.IMREAD_COLOR) if buffer.size else None
    if image is None or image.size == 0:
        raise UnreadableMediaError(f"{label}: not a readable image (JPEG, PNG, WebP or BMP)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def load_image(path: str | Path) -> np.ndarray:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise UnreadableMediaError(f"{path}: cannot read file ({err.strerror})") from None
    return decode_image(data, str(path))
