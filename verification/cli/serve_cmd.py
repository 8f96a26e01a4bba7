"""``verification serve``: the HTTP + WebRTC server on embedded defaults.

Every flag also reads a ``VERIFICATION_*`` environment variable (flags win); list-valued
environment variables take JSON, e.g. ``VERIFICATION_STUN_URLS='["stun:stun.example:3478"]'``.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="start the server (SQLite + local data dir by default)")
    parser.add_argument("--host", default=None, help="default $VERIFICATION_HOST or 127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default $VERIFICATION_PORT or 8000")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="default $VERIFICATION_DATA_DIR or ./data")
    parser.add_argument("--public-url", default=None,
                        help="base URL used in join links (default http://HOST:PORT)")
    parser.add_argument("--stun", action="append", dest="stun_urls", default=None,
                        metavar="URL", help="STUN server (repeatable), e.g. stun:host:3478")
    parser.add_argument("--turn", action="append", dest="turn_urls", default=None,
                        metavar="URL", help="TURN server (repeatable), e.g. turn:host:3478")
    parser.add_argument("--turn-username", default=None)
    parser.add_argument("--turn-credential", default=None)
    parser.add_argument("--max-sessions", type=int, default=None,
                        help="concurrent interviews at most (admission control also measures load)")
    parser.add_argument("--ice-loopback", action="store_true", default=None,
                        help="offer only 127.0.0.1 ICE candidates (tests and benchmarks)")
    parser.add_argument("--no-record", dest="record", action="store_false", default=None,
                        help="do not write recordings")
    parser.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> int:
    import uvicorn  # imported here: the other commands do not need the web stack
    from pydantic import ValidationError

    from signaling.access_log import quiet_address_loggers
    from signaling.app import create_app
    from signaling.settings import ServerSettings
    from verification.errors import InvalidInputError

    names = ("host", "port", "data_dir", "public_url", "stun_urls", "turn_urls", "turn_username",
             "turn_credential", "max_sessions", "ice_loopback", "record")
    overrides = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    try:
        settings = ServerSettings(**overrides)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in err.errors())
        raise InvalidInputError(f"invalid server setting ({problems})") from None
    quiet_address_loggers(args.log_level)  # aioice prints applicants' IP addresses at INFO
    # uvicorn's access log prints client addresses and full paths (personal data): off; the
    # app logs its own request line without them (signaling/access_log.py).
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level=args.log_level.lower(), timeout_graceful_shutdown=10,
                access_log=False)
    return 0
