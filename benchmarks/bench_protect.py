"""Cost of data protection on real media: encryption at rest, range reads, password hashing.

Prints, for recordings and photos from /work/shared/media (or any files given):
- encrypt / decrypt throughput (MB/s) of the EncryptedStore and the on-disk overhead;
- the latency of a 1 MiB range read near the end of a recording (what a seek in the console
  costs), compared with decrypting the whole object;
- argon2id hash time at the default (RFC 9106) parameters, i.e. the per-guess cost an attacker
  with the accounts file pays, and the login latency a reviewer sees.

    python -m benchmarks.bench_protect [--media /work/shared/media] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from argon2 import PasswordHasher

from verification.protect.keys import KeyRing, MasterKey
from verification.protect.store import EncryptedStore

MEDIA_SUFFIXES = {".mp4", ".webm", ".mkv", ".mpg", ".avi", ".flac", ".wav", ".jpg", ".png"}


def _pick_files(media: Path, limit: int) -> list[Path]:
    files = sorted((p for p in media.rglob("*") if p.suffix.lower() in MEDIA_SUFFIXES
                    and p.is_file()), key=lambda p: p.stat().st_size, reverse=True)
    return files[:limit]


def _timed(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=Path("/work/shared/media"))
    parser.add_argument("--files", type=int, default=6, help="largest N media files")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--long-mb", type=int, default=64,
                        help="also a recording-sized object of this many MiB (0: none)")
    args = parser.parse_args()

    files = _pick_files(args.media, args.files)
    if not files:
        raise SystemExit(f"no media under {args.media}")
    with tempfile.TemporaryDirectory() as tmp:
        store = EncryptedStore(Path(tmp) / "vault", KeyRing.of(MasterKey.generate()))
        if args.long_mb:  # a long interview: the shared media has no recording this size
            long_file = Path(tmp) / "long_recording.bin"
            with long_file.open("wb") as handle:
                for _ in range(args.long_mb):
                    handle.write(os.urandom(1 << 20))
            files.append(long_file)
        print(f"{'file':48s} {'MB':>7s} {'enc MB/s':>9s} {'dec MB/s':>9s} {'overhead':>9s} "
              f"{'1MiB seek ms':>12s} {'full ms':>8s}")
        for i, path in enumerate(files):
            oid = f"bench/{i}"
            size_mb = path.stat().st_size / 1e6
            enc = _timed(lambda p=path, o=oid: store.put(o, p, kind="recording", subject="b"),
                         args.repeat)
            dec = _timed(lambda o=oid: sum(len(c) for c in store.stream(o)), args.repeat)
            stored = store._path(store._digest(oid)).stat().st_size
            size = store.info(oid).size
            seek = _timed(lambda o=oid, s=size: store.read_range(o, max(0, s - (1 << 20)), s),
                          args.repeat)
            name = (str(path.relative_to(args.media)) if path.is_relative_to(args.media)
                    else path.name)
            print(f"{name[-48:]:48s} {size_mb:7.2f} "
                  f"{size_mb / enc:9.1f} {size_mb / dec:9.1f} "
                  f"{100 * (stored - size) / max(size, 1):8.2f}% {1000 * seek:12.2f} "
                  f"{1000 * dec:8.2f}")
    hasher = PasswordHasher()
    digest = hasher.hash("benchmark passphrase")
    hash_s = _timed(lambda: hasher.hash("benchmark passphrase"), args.repeat)
    verify_s = _timed(lambda: hasher.verify(digest, "benchmark passphrase"), args.repeat)
    print(f"argon2id t={hasher.time_cost} m={hasher.memory_cost // 1024} MiB "
          f"p={hasher.parallelism}: hash {1000 * hash_s:.0f} ms, verify {1000 * verify_s:.0f} ms")


if __name__ == "__main__":
    main()
