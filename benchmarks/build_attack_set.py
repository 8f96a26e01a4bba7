"""Build the liveness evaluation set from /work/shared/media (attacks and real clips).

Usage: ``python -m benchmarks.build_attack_set [--out .eval-cache/liveness] [--force]``

Writes clips and ``manifest.json`` (one entry per clip: path, label ``attack`` | ``real``,
kind, source, encoding) into a git-ignored folder. Files that already exist are kept unless
``--force``. The attack physics is in :mod:`benchmarks.liveness_attacks`.

Kinds:
* ``print_london``       a printed London portrait held by hand (moving plane, paper look)
* ``print_turned``       the same, the card turned by up to ~25 degrees as if the head turned
* ``replay_grid``        a GRID clip replayed on a hand-held screen (bezel, moiré, gamma, glare)
* ``frozen_frame``       one GRID frame repeated while the clip's audio plays on
* ``silent_face_print``  the Silent-Face printed-photo sample filmed with a shaking camera
* ``silent_face_screen`` the Silent-Face tablet-replay sample filmed with a shaking camera
* ``real``               GRID clips as recorded
* ``real_vp8_150k``      re-encoded 320x240 VP8 at 150 kbps (a weak WebRTC link)
* ``real_lowlight``      darkened to low light (less light, more sensor noise)
* ``real_lowlight_vp8``  both

A third of every attack kind is also encoded 320x240 VP8 at 150 kbps, as a weak link would
deliver it, so no cue may rely on pristine pixels.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from pathlib import Path

import cv2
import numpy as np

from benchmarks import liveness_attacks as la

MEDIA = Path("/work/shared/media")
GRID = MEDIA / "face_video" / "grid"
LONDON = MEDIA / "faces" / "london"
SILENT_FACE = MEDIA / "spoof" / "silent_face"
BACKGROUNDS = [MEDIA / "scenes" / "tum_office" / "fr1_desk_1.png",
               MEDIA / "scenes" / "tum_office" / "fr1_desk_2.png",
               MEDIA / "scenes" / "tum_office" / "LK1.png",
               MEDIA / "scenes" / "opencv_samples" / "left01.jpg",
               MEDIA / "scenes" / "opencv_samples" / "box_in_scene.png",
               MEDIA / "scenes" / "opencv_samples" / "coffee.png"]
DEFAULT_OUT = Path(__file__).resolve().parents[1] / ".eval-cache" / "liveness"
LOW_BITRATE = {"codec": "libvpx", "bitrate": 150_000, "size": (320, 240)}
NORMAL = {"codec": "libx264", "bitrate": None, "size": None}

log = logging.getLogger("build_attack_set")


def rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)  # applies the EXIF rotation
    if image is None:
        raise SystemExit(f"cannot read {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def london_portraits(per_group: int = 2) -> list[tuple[str, str]]:
    """(face id, ethnicity) for ``per_group`` people of every ethnicity in info.csv."""
    chosen: dict[str, list[str]] = {}
    with open(LONDON / "info.csv") as handle:
        for row in csv.DictReader(handle):
            group = chosen.setdefault(row["face_eth"], [])
            if len(group) < per_group:
                group.append(row["face_id"])
    return [(face, eth) for eth, faces in sorted(chosen.items()) for face in faces]


class Builder:
    def __init__(self, out: Path, force: bool, only: set[str] | None = None) -> None:
        self.out = out
        self.force = force
        self.only = only
        self.entries: list[dict] = []

    def add(self, name: str, label: str, kind: str, source: str, encoding: dict,
            render, fps: float = 25.0, audio: np.ndarray | None = None, **extra) -> None:
        suffix = ".webm" if encoding["codec"] == "libvpx" else ".mp4"
        path = self.out / kind / f"{name}{suffix}"
        forced = self.force and (self.only is None or kind in self.only)
        if forced or not path.exists():
            log.info("rendering %s", path.relative_to(self.out))
            frames = render()
            size = encoding["size"]
            if size is not None and frames[0].shape[0] > frames[0].shape[1]:
                size = (size[1], size[0])  # portrait stays portrait
            la.write_clip(path, frames, fps=fps, audio=audio, codec=encoding["codec"],
                          bitrate=encoding["bitrate"], size=size)
        self.entries.append({"path": str(path), "label": label, "kind": kind, "source": source,
                             "codec": encoding["codec"], "bitrate": encoding["bitrate"], **extra})

    def reference(self, path: Path, kind: str) -> None:
        self.entries.append({"path": str(path), "label": "real", "kind": kind,
                             "source": str(path), "codec": "mpeg1video", "bitrate": None})


def encoding_for(index: int) -> dict:
    return LOW_BITRATE if index % 3 == 2 else NORMAL


def build(out: Path, force: bool, only: set[str] | None = None) -> Path:
    builder = Builder(out, force, only)
    backgrounds = [rgb(p) for p in BACKGROUNDS]
    grid_clips = sorted(GRID.glob("*.mpg"))

    # Real clips: as recorded, weak link, low light.
    for i, path in enumerate(grid_clips):
        builder.reference(path, "real")
        frames, audio, fps = la.read_clip(path)
        builder.add(path.stem, "real", "real_vp8_150k", str(path), LOW_BITRATE,
                    lambda f=frames: f, fps=fps, audio=audio)
        dark_rng = np.random.default_rng(100 + i)
        gain = float(dark_rng.uniform(0.2, 0.35))
        builder.add(path.stem, "real", "real_lowlight", str(path), NORMAL,
                    lambda f=frames, g=gain, s=100 + i:
                    [la.darken(x, np.random.default_rng(s * 1000 + k), gain=g)
                     for k, x in enumerate(f)], fps=fps, audio=audio, gain=round(gain, 3))
        builder.add(path.stem, "real", "real_lowlight_vp8", str(path), LOW_BITRATE,
                    lambda f=frames, g=gain, s=100 + i:
                    [la.darken(x, np.random.default_rng(s * 1000 + k), gain=g)
                     for k, x in enumerate(f)], fps=fps, audio=audio, gain=round(gain, 3))

    # Printed London portraits held by hand.
    for i, (face, eth) in enumerate(london_portraits()):
        expression = "neutral" if i % 2 == 0 else "smiling"
        photo = LONDON / f"{face}_{expression}.jpg"
        bg = backgrounds[i % len(backgrounds)]
        builder.add(f"{face}_{expression}", "attack", "print_london", str(photo),
                    encoding_for(i),
                    lambda p=photo, b=bg, s=i: la.print_attack_frames(rgb(p), b, seed=s),
                    ethnicity=eth)

    # The same prints turned left/right and up/down by hand, as an attacker would to fake a
    # head turn (the other expression of each person, other backgrounds and seeds).
    for i, (face, eth) in enumerate(london_portraits()):
        expression = "smiling" if i % 2 == 0 else "neutral"
        photo = LONDON / f"{face}_{expression}.jpg"
        bg = backgrounds[(i + 3) % len(backgrounds)]
        builder.add(f"{face}_{expression}", "attack", "print_turned", str(photo),
                    encoding_for(i),
                    lambda p=photo, b=bg, s=500 + i: la.print_attack_frames(rgb(p), b, seed=s,
                                                                            tilt_deg=25.0),
                    ethnicity=eth)

    # GRID clips replayed on a hand-held screen; the last three as close-ups (bezel partly cut).
    for i, path in enumerate(grid_clips + grid_clips[:3]):
        frames, audio, fps = la.read_clip(path)
        close = i >= len(grid_clips)
        bg = backgrounds[(i + 2) % len(backgrounds)]
        name = f"{path.stem}_close" if close else path.stem
        builder.add(name, "attack", "replay_grid", str(path), encoding_for(i),
                    lambda f=frames, b=bg, s=200 + i, c=close, r=fps:
                    la.replay_attack_frames(f, b, seed=s, fps=r,
                                            placement_height=1.05 if c else None),
                    fps=fps, audio=audio, close_up=close)

    # A frozen frame while the live audio continues; the last three with fresh sensor noise.
    for i, path in enumerate(grid_clips + grid_clips[:3]):
        frames, audio, fps = la.read_clip(path)
        noisy = i >= len(grid_clips)
        still = frames[len(frames) // 3]
        name = f"{path.stem}_noisy" if noisy else path.stem
        count = len(frames)
        builder.add(name, "attack", "frozen_frame", str(path), encoding_for(i),
                    lambda s=still, n=count, k=i, z=noisy:
                    la.frozen_frames(s, n, np.random.default_rng(300 + k), 2.0 if z else 0.0),
                    fps=fps, audio=audio, sensor_noise=noisy)

    # Silent-Face attack photos filmed by a hand-held camera.
    for kind, image in (("silent_face_print", "image_F1.jpg"),
                        ("silent_face_screen", "image_F2.jpg")):
        for seed in range(3):
            builder.add(f"{Path(image).stem}_{seed}", "attack", kind, str(SILENT_FACE / image),
                        encoding_for(seed),
                        lambda p=SILENT_FACE / image, s=seed:
                        la.shaken_still_frames(rgb(p), seed=400 + s))

    manifest = out / "manifest.json"
    manifest.write_text(json.dumps(builder.entries, indent=1))
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--force", action="store_true", help="re-render existing clips")
    parser.add_argument("--only", action="append", metavar="KIND",
                        help="with --force: re-render only this kind (repeatable)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    manifest = build(args.out, args.force, set(args.only) if args.only else None)
    entries = json.loads(manifest.read_text())
    kinds: dict[str, int] = {}
    for entry in entries:
        kinds[entry["kind"]] = kinds.get(entry["kind"], 0) + 1
    print(f"{len(entries)} clips -> {manifest}")
    for kind, count in kinds.items():
        print(f"  {kind:20s} {count}")


if __name__ == "__main__":
    main()
