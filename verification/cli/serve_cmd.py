"""``verification serve``: the HTTP (and, later, WebRTC) server on embedded defaults."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="start the server (SQLite + local data dir by default)")
    parser.add_argument("--host", default=None, help="default $VERIFICATION_HOST or 127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default $VERIFICATION_PORT or 8000")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="default $VERIFICATION_DATA_DIR or ./data")
    parser.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> int:
    import uvicorn  # imported here: the other commands do not need the web stack

    from signaling.app import create_app
    from signaling.settings import ServerSettings

    overrides = {k: v for k, v in {"host": args.host, "port": args.port,
                                   "data_dir": args.data_dir}.items() if v is not None}
    settings = ServerSettings(**overrides)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level=args.log_level.lower(), timeout_graceful_shutdown=10)
    return 0
