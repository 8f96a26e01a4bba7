"""The data dir for commands that work on local files (users, audit, keys)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_data_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="default $VERIFICATION_DATA_DIR or ./data (as `verification serve`)")


def resolve_data_dir(args: argparse.Namespace) -> Path:
    if args.data_dir is not None:
        return Path(args.data_dir)
    return Path(os.environ.get("VERIFICATION_DATA_DIR") or "./data")
