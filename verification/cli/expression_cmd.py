"""``verification expression timeline RECORDING [--json]``: the per-answer expression summary.

Prints, for each question of the interview (``--script``: the prompt steps with their media
times, as ``verification analyze --script`` takes them), the expression trajectory, the brief
facial movements spotted (micro-expression cues) with plain-language labels, and the comparison
with the same person during the neutral steps. Advisory cues for a human reviewer: they never
decide an application. ``--json`` prints the whole summary as one JSON object (keys
``advisory``, ``reliable``, ``analysed_fps``, ``notes``, ``baseline``, ``answers``, ``events``,
``spotting``, ``recording``, ``cost``).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("expression", help="expression cues: the per-answer timeline")
    esub = parser.add_subparsers(dest="expression_command", required=True, metavar="ACTION")
    timeline = esub.add_parser("timeline", help="per-answer expression summary of a recording",
                               description=__doc__)
    timeline.add_argument("recording", type=Path)
    timeline.add_argument("--script", type=Path,
                          help="interview script JSON: steps {\"type\", \"t\", ...}")
    timeline.add_argument("--fps", type=float, default=None,
                          help="analysed frames per second (default: every frame; brief "
                               "movements need at least 12)")
    timeline.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="cpu")
    timeline.add_argument("--json", action="store_true", help="print the summary as JSON")
    timeline.set_defaults(handler=run_timeline)


def run_timeline(args: argparse.Namespace) -> int:
    from verification.cli.analyze_cmd import read_script_file
    from verification.cli.output import print_json
    from verification.errors import InvalidInputError
    from verification.expression.offline import analyse_recording

    if args.fps is not None and not args.fps > 0:
        raise InvalidInputError("--fps must be a positive number of frames per second")
    script = read_script_file(args.script)
    timeline, cost = analyse_recording(args.recording, script or None, fps=args.fps,
                                       provider=args.provider)
    if args.json:
        report = timeline.to_json()
        report["recording"] = str(args.recording)
        report["cost"] = {"frames": cost.frames,
                          "expression_ms_per_frame": round(cost.expression_ms, 3),
                          "expression_cpu_ms_per_frame": round(cost.expression_cpu_ms, 3),
                          "face_stage_ms_per_frame": round(cost.face_stage_ms, 3),
                          "expression_s": round(cost.session_s, 3)}
        print_json(report)
    else:
        print(timeline.to_text())
    return 0
