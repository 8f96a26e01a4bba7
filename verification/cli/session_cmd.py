"""``verification session create|show``: make an interview link on a running server.

Until the loan-system API exists (interview-flow issue), this is how an operator gets a join
URL: interviews live in the server's memory, so the command asks the running server (admin
routes: loopback, or ``--admin-token`` / ``$VERIFICATION_ADMIN_TOKEN``).
"""

from __future__ import annotations

import argparse
import json
import os

from verification.errors import VerificationError


class ServerUnreachableError(VerificationError):
    code = "server_unreachable"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("session", help="create or inspect interview sessions on a server")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create an interview and print its join URL")
    create.add_argument("--reference", help="the lender's application id")
    create.add_argument("--locale", choices=["zh-CN", "en"], default="zh-CN")
    create.add_argument("--ttl", type=float, default=None, help="link lifetime in seconds")
    show = actions.add_parser("show", help="print a session's state (and verdict when finished)")
    show.add_argument("session_id")
    for p in (create, show):
        p.add_argument("--server", default=None,
                       help="server URL (default http://$VERIFICATION_HOST:$VERIFICATION_PORT "
                            "or http://127.0.0.1:8000)")
        p.add_argument("--admin-token", default=os.environ.get("VERIFICATION_ADMIN_TOKEN"))
        p.add_argument("--json", action="store_true", help="print the server's JSON answer")
    parser.set_defaults(handler=run)


def _server(args: argparse.Namespace) -> str:
    if args.server:
        return args.server.rstrip("/")
    host = os.environ.get("VERIFICATION_HOST", "127.0.0.1")
    port = os.environ.get("VERIFICATION_PORT", "8000")
    return f"http://{host}:{port}"


def run(args: argparse.Namespace) -> int:
    import httpx

    headers = {"Authorization": f"Bearer {args.admin_token}"} if args.admin_token else {}
    base = _server(args)
    try:
        if args.action == "create":
            body = {"reference": args.reference, "locale": args.locale, "ttl_s": args.ttl}
            response = httpx.post(f"{base}/v1/admin/sessions", json=body, headers=headers,
                                  timeout=10)
        else:
            response = httpx.get(f"{base}/v1/admin/sessions/{args.session_id}", headers=headers,
                                 timeout=10)
    except httpx.HTTPError as err:
        raise ServerUnreachableError(f"cannot reach the server at {base} ({err}); "
                                     "is `verification serve` running?") from None
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code >= 400:
        raise VerificationError(f"server refused ({response.status_code}): "
                                f"{data.get('message', response.text[:200])}")
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    elif args.action == "create":
        print(data["join_url"])
    else:
        print(f"{data['id']} {data['state']} decision={data.get('decision')}")
    return 0
