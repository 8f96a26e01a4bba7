"""``verification`` command line: models, analyze, bench, serve.

Every failure a user can cause ends with one ``error: ...`` line on stderr and a non-zero exit
status, never a traceback (``--debug`` shows one for developers).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

from verification import __version__
from verification.errors import VerificationError

EXIT_USER_ERROR = 2
EXIT_UNEXPECTED = 1


def _command_modules() -> list[ModuleType]:
    """Every ``verification/cli/*_cmd.py`` module; each has ``register(subparsers)``.

    Discovery keeps each command in its own module: adding ``face_cmd.py`` adds
    ``verification face ...`` without touching a shared list.
    """
    names = sorted(info.name for info in pkgutil.iter_modules(__path__)
                   if info.name.endswith("_cmd"))
    return [importlib.import_module(f"{__name__}.{name}") for name in names]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verification",
        description="Video interview biometric verification: models, offline analysis, "
                    "benchmarks and the server.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--log-level", default="WARNING",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _command_modules():
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args) or 0)
    except VerificationError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: one line for the user, the traceback with --debug
        if args.debug:
            raise
        print(f"error: unexpected failure: {type(err).__name__}: {err} "
              "(run with --debug for the traceback)", file=sys.stderr)
        return EXIT_UNEXPECTED


if __name__ == "__main__":
    sys.exit(main())
