"""Scan a data dir for anything sensitive readable in the clear (media signatures, known bytes)."""

from __future__ import annotations

from pathlib import Path

# Magic numbers at the start of a file, and longer signatures that random ciphertext cannot
# contain by chance anywhere in a file.
FILE_START_MAGIC = {
    "JPEG": b"\xff\xd8\xff", "PNG": b"\x89PNG", "FLAC": b"fLaC", "RIFF/WAV": b"RIFF",
    "WebM/Matroska (EBML)": b"\x1a\x45\xdf\xa3", "Ogg": b"OggS",
}
ANYWHERE = {
    "JPEG JFIF": b"JFIF\x00", "JPEG Exif": b"Exif\x00\x00", "PNG": b"\x89PNG\r\n\x1a\n",
    "FLAC STREAMINFO": b"fLaC\x00\x00\x00\x22", "FLAC STREAMINFO (last)": b"fLaC\x80\x00\x00\x22",
    "WebM doctype": b"\x42\x82\x84webm", "Matroska doctype": b"\x42\x82\x88matroska",
    "EBML header": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01", "numpy header": b"\x93NUMPY",
    "base64 JPEG": b"/9j/4AAQ", "base64 JPEG (Exif)": b"/9j/4QA",
}


def windows(data: bytes, width: int = 32, count: int = 8) -> list[bytes]:
    """Up to ``count`` distinctive slices spread over ``data`` (runs of zeros prove nothing)."""
    step = max(1, (len(data) - width) // count)
    out = []
    for start in range(0, max(1, len(data) - width + 1), step):
        stop = min(start + step, len(data) - width + 1)
        window = next((data[i:i + width] for i in range(start, stop)
                       if len(set(data[i:i + width])) >= 12), None)
        if window is not None:
            out.append(window)
    return out[:count]


def readable_findings(root: Path, known: dict[str, bytes]) -> list[str]:
    """Every file under ``root`` that starts like media, holds a media signature, or holds a
    slice of one of the ``known`` plaintexts (photos, recordings, embeddings)."""
    needles = {f"{name} bytes {i}": w for name, data in known.items()
               for i, w in enumerate(windows(data))}
    findings = []
    for path in (p for p in root.rglob("*") if p.is_file()):
        content = path.read_bytes()
        findings += [f"{path} starts like a {name} file"
                     for name, magic in FILE_START_MAGIC.items() if content.startswith(magic)]
        findings += [f"{name} readable in {path}"
                     for name, signature in {**ANYWHERE, **needles}.items()
                     if signature in content]
    return findings
