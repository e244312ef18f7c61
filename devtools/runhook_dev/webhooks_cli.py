"""`runhook webhooks …` subcommands (wired into runhook_dev.cli)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

DEFAULT_PORT = 8787


def add_parser(subparsers: Any) -> None:
    webhooks = subparsers.add_parser("webhooks", help="webhook helpers for receivers")
    sub = webhooks.add_subparsers(dest="webhooks_command", required=True)
    listen = sub.add_parser(
        "listen",
        help="a local receiver that verifies and prints deliveries (like `stripe listen`)",
        description=(
            "Receive webhooks on 127.0.0.1:<port>, verify both signatures and print them. "
            "With an API key (--api-key or RUNHOOK_API_KEY) it registers an endpoint for "
            "itself on --api-url and deletes it on exit; with --secret it only verifies."
        ),
    )
    listen.add_argument("--port", type=int, default=DEFAULT_PORT, help="default 8787 (0: any)")
    listen.add_argument("--host", default="127.0.0.1")
    listen.add_argument(
        "--secret",
        default=os.environ.get("RUNHOOK_WEBHOOK_SECRET"),
        help="whsec_… to verify with (env RUNHOOK_WEBHOOK_SECRET)",
    )
    listen.add_argument(
        "--api-url",
        default=os.environ.get("RUNHOOK_API_URL", "http://127.0.0.1:3000"),
        help="the API to register with (env RUNHOOK_API_URL; default the local cloud)",
    )
    listen.add_argument(
        "--api-key",
        default=os.environ.get("RUNHOOK_API_KEY") or os.environ.get("RUNHOOK_DEV_API_KEY"),
        help="admin key to register an endpoint (env RUNHOOK_API_KEY / RUNHOOK_DEV_API_KEY)",
    )
    listen.add_argument("--events", help="comma-separated event types (default: all)")
    listen.add_argument("--task-id", help="only this task's runs")
    listen.add_argument("--forward-to", help="POST verified deliveries on to this URL")
    listen.add_argument("--print-json", action="store_true", help="print each body too")
    listen.add_argument(
        "--pepper",
        default=os.environ.get("WEBHOOK_PEPPER", "komos-webhook-pepper"),
        help="the Komos signature pepper (env WEBHOOK_PEPPER)",
    )
    listen.set_defaults(func=run_listen)


def run_listen(args: argparse.Namespace) -> int:
    from runhook_dev.listen import Listener, Registration, register

    try:
        listener = Listener(
            host=args.host,
            port=args.port,
            secrets=[args.secret] if args.secret else [],
            pepper=args.pepper,
            forward_to=args.forward_to,
            print_body=args.print_json,
        )
    except OSError as exc:
        print(
            f"runhook webhooks listen: cannot listen on {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    registration: Registration | None = None
    if not args.secret and args.api_key:
        events = [e.strip() for e in args.events.split(",") if e.strip()] if args.events else None
        try:
            registration = register(args.api_url, args.api_key, listener.url, events, args.task_id)
        except (RuntimeError, OSError) as exc:
            listener.stop()
            print(f"runhook webhooks listen: {exc}", file=sys.stderr)
            return 1
        listener.secrets = [registration.secret]
        print(
            f"Registered endpoint {registration.endpoint_id} on {args.api_url} "
            f"(deleted on exit). Signing secret: {registration.secret}"
        )
    elif not args.secret:
        print("No --secret and no API key: deliveries are printed unverified.")
    print(f"Listening on {listener.url} — Ctrl-C to stop.", flush=True)
    try:
        listener.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        listener.stop()
        if registration is not None:
            try:
                registration.delete()
            except OSError as exc:
                print(
                    f"could not delete endpoint {registration.endpoint_id}: {exc}", file=sys.stderr
                )
    return 0
