"""``verification voice compare``: voiceprint similarity of two recordings, or of a CSV of pairs.

Contract (an external evaluation relies on it):

* ``verification voice compare AUDIO_A AUDIO_B [--json]``
* ``verification voice compare --pairs PAIRS.csv`` (header ``a,b``; file paths) prints one JSON
  object per line: ``{"a": ..., "b": ..., "similarity": <float>, "match": <bool>}`` or
  ``{"a": ..., "b": ..., "error": "no_speech" | "unreadable" | "invalid_row"}``; a bad pair
  never stops the batch, and each distinct file is decoded and embedded once per run.

Any file FFmpeg decodes works: wav, flac, ogg/opus, mp3, and the audio track of video files
(mp4, webm, mkv, mpg). ``similarity`` is the cosine of the VAD-gated GE2E voiceprints (higher =
more alike, about 0.4-1.0 in practice); ``match`` applies the calibrated threshold
(``verification.voice.voiceprint.MATCH_THRESHOLD``). ``no_speech``: under 0.5 s of speech found.
Only the first ``MAX_SECONDS`` of a file are used. Relative paths in the CSV are tried as given,
then relative to the CSV's folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from verification.cli.pairs import read_pairs, resolve_pair_path
from verification.errors import InvalidInputError, UnreadableMediaError, VerificationError

MAX_SECONDS = 600.0
_MESSAGES = {"no_speech": "no speech found (under 0.5 s)",
             "unreadable": "not a readable audio file"}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("voice", help="voice tools: compare two voices")
    vsub = parser.add_subparsers(dest="voice_command", required=True, metavar="ACTION")
    cmp_ = vsub.add_parser("compare", help="voiceprint similarity of two recordings or a CSV "
                                           "of pairs", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    cmp_.add_argument("audio", nargs="*", type=Path, metavar="AUDIO",
                      help="two audio (or video) files: AUDIO_A AUDIO_B")
    cmp_.add_argument("--pairs", type=Path, help="CSV with header a,b: one pair of paths a row")
    cmp_.add_argument("--json", action="store_true", help="print the result as one JSON object")
    cmp_.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="cpu")
    cmp_.set_defaults(handler=compare)


class VoiceprintCache:
    """Decodes and embeds each file once per run; a failure is remembered as its error code."""

    def __init__(self, encoder, vad) -> None:  # noqa: ANN001 - model adapters
        self._encoder = encoder
        self._vad = vad
        self._cache: dict[str, object] = {}

    def get(self, path: Path) -> object:
        """The voiceprint vector, or an error code string."""
        from verification.voice.audio_io import read_audio_16k
        from verification.voice.voiceprint import NoSpeechError, enrol

        key = str(path.resolve()) if path.exists() else str(path)
        if key not in self._cache:
            try:
                if not path.is_file():
                    raise UnreadableMediaError(f"{path}: no such file")
                wav = read_audio_16k(path, max_seconds=MAX_SECONDS)
                self._cache[key] = enrol(self._encoder, self._vad, wav).vector
            except NoSpeechError:
                self._cache[key] = "no_speech"
            except VerificationError as err:
                self._cache[key] = err.code
        return self._cache[key]


def pair_result(cache: VoiceprintCache, a: str, b: str, path_a: Path, path_b: Path) -> dict:
    from verification.voice.voiceprint import compare as compare_voiceprints

    first, second = cache.get(path_a), cache.get(path_b)
    for item in (first, second):
        if isinstance(item, str):
            return {"a": a, "b": b, "error": item}
    result = compare_voiceprints(first, second)  # type: ignore[arg-type]
    return {"a": a, "b": b, "similarity": round(result.similarity, 6), "match": result.match}


def compare(args: argparse.Namespace) -> int:
    from verification.cli.output import print_json
    from verification.runtime import ModelRegistry
    from verification.voice.voiceprint import MATCH_THRESHOLD

    if args.pairs is not None and args.audio:
        raise InvalidInputError("give either two audio files or --pairs PAIRS.csv, not both")
    if args.pairs is None and len(args.audio) != 2:
        raise InvalidInputError("voice compare needs two audio files (AUDIO_A AUDIO_B) or "
                                "--pairs PAIRS.csv")
    if args.pairs is not None and not args.pairs.is_file():
        raise UnreadableMediaError(f"{args.pairs}: no such file")

    registry = ModelRegistry.from_manifest(provider=args.provider)
    cache = VoiceprintCache(registry.adapter("speaker_embedding"), registry.adapter("vad"))

    if args.pairs is not None:
        for row in read_pairs(args.pairs):
            if not row.complete:
                out = {"a": row.a or None, "b": row.b or None, "error": "invalid_row"}
            else:
                out = pair_result(cache, row.a, row.b, resolve_pair_path(row.a, args.pairs),
                                  resolve_pair_path(row.b, args.pairs))
            sys.stdout.write(json.dumps(out) + "\n")
            sys.stdout.flush()
        return 0

    path_a, path_b = args.audio
    out = pair_result(cache, str(path_a), str(path_b), path_a, path_b)
    if args.json:
        print_json(out)
        return 0 if "error" not in out else 2
    if "error" in out:
        failed = path_a if isinstance(cache.get(path_a), str) else path_b
        raise VerificationError(f"{failed}: {_MESSAGES.get(out['error'], out['error'])}")
    verdict = "match" if out["match"] else "no match"
    print(f"similarity {out['similarity']:.4f}: {verdict} (threshold {MATCH_THRESHOLD:.2f})")
    return 0
