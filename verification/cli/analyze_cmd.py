"""``verification analyze RECORDING``: the live session code, run over a file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from verification.errors import InvalidInputError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("analyze", help="analyse a recording and print the verdict")
    parser.add_argument("recording", type=Path)
    parser.add_argument("--id-photo", type=Path, help="the applicant's ID photo")
    parser.add_argument("--voiceprint", type=Path, help="enrolled voice sample (audio file)")
    parser.add_argument("--geo", type=Path, help="geo JSON (gps, ip, timezone, declared)")
    parser.add_argument("--script", type=Path, help="interview script with prompt media times")
    parser.add_argument("--fps", type=float, default=5.0, help="analysed video frames per second")
    parser.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="cpu")
    parser.add_argument("--json", action="store_true",
                        help="print the full report (verdict, evidence timeline, stream stats)")
    parser.set_defaults(handler=analyze)


def read_script_file(path: Path | None) -> dict:
    """The prompt script: a JSON list of steps (or ``{"steps": [...]}``), checked up front so a
    malformed script is one clear error before any model loads."""
    from verification.prompt_script import PromptScript

    value = read_json_file(path, "script", allow_list=True)
    steps = PromptScript.from_json(value).to_json()
    return {"steps": steps} if steps else {}


def read_json_file(path: Path | None, label: str, allow_list: bool = False) -> dict | list:
    if path is None:
        return {}
    try:
        value = json.loads(path.read_text())
    except OSError as err:
        raise InvalidInputError(f"{label} {path}: cannot read ({err.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InvalidInputError(f"{label} {path}: not valid JSON ({err})") from None
    if allow_list and isinstance(value, list):
        return value
    if not isinstance(value, dict):
        raise InvalidInputError(f"{label} {path}: must be a JSON object")
    return value


def analyze(args: argparse.Namespace) -> int:
    from verification.cli.output import print_json
    from verification.offline import AnalyzeOptions, analyze_recording

    options = AnalyzeOptions(
        recording=args.recording,
        id_photo=args.id_photo,
        voiceprint=args.voiceprint,
        geo=read_json_file(args.geo, "geo"),
        script=read_script_file(args.script),
        fps=args.fps,
        provider=args.provider,
    )
    report = analyze_recording(options)
    print_json(report if args.json else report["verdict"])
    return 0
