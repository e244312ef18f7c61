"""`runhook admin …`: bootstrap an organization and its first admin key into the table.

Run after `sam deploy` with AWS credentials and the stack's table name (output
`TableName`), or against the local cloud with `--endpoint-url http://127.0.0.1:4566`.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any


def add_parser(subparsers: Any) -> None:
    admin = subparsers.add_parser(
        "admin", help="operator commands that write straight to the table"
    )
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--table", required=True, help="the stack's table name (output TableName)")
        p.add_argument("--region", help="AWS region (default: the environment's)")
        p.add_argument(
            "--endpoint-url", help="AWS endpoint, e.g. the local cloud's http://127.0.0.1:4566"
        )

    boot = admin_sub.add_parser("bootstrap", help="create an organization and an admin key")
    common(boot)
    boot.add_argument("--name", required=True, help="organization name")
    boot.add_argument("--org-id", help="organization id (default: a new UUID)")
    boot.add_argument("--api-key", help="use this key secret instead of generating one")
    boot.add_argument(
        "--test-key", action="store_true", help="make an sk_test_ key instead of sk_live_"
    )

    key = admin_sub.add_parser("create-key", help="add a key to an existing organization")
    common(key)
    key.add_argument("--org-id", required=True)
    key.add_argument("--name", required=True)
    key.add_argument("--scopes", default="runs", help="comma-separated: admin,runs")
    admin.set_defaults(func=run)


def _container(args: argparse.Namespace) -> Any:
    """The Container of the table named on the command line (region and endpoint too)."""
    from runhook.bootstrap import Container

    environ = dict(os.environ)
    environ["TABLE_NAME"] = args.table
    if args.region:
        environ["AWS_REGION"] = environ["AWS_DEFAULT_REGION"] = args.region
    if args.endpoint_url:
        environ["AWS_ENDPOINT_URL"] = args.endpoint_url
    return Container.from_environment(environ)


def run(args: argparse.Namespace) -> int:
    from runhook_dev import admin

    container = _container(args)
    if args.admin_command == "bootstrap":
        org_id, secret = admin.bootstrap_organization(
            args.name,
            org_id=args.org_id,
            api_key=args.api_key,
            live=not args.test_key,
            container=container,
        )
        print(json.dumps({"orgId": org_id, "apiKey": secret}, indent=2))
        if secret is None:
            print(
                "The organization already has keys; none was created. Use create-key for another."
            )
        return 0
    if container.auth.get_org(args.org_id) is None:
        print(f"no organization {args.org_id} in {args.table}")
        return 2
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    if not set(scopes) <= {"admin", "runs"}:
        print("scopes are admin and/or runs")
        return 2
    key, secret = container.auth.create_key(args.org_id, args.name, scopes)
    print(json.dumps({**key.to_resource(), "secret": secret}, indent=2))
    return 0
