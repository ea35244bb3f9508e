"""`python -m handoff [serve]` runs the service; `python -m handoff create-agent ...` and
`python -m handoff create-token ...` manage accounts. Configuration: handoff/README.md."""
from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from typing import List, Optional

from handoff.settings import Settings, SettingsError


def _serve(settings: Settings) -> int:
    from handoff.api import create_app
    from observability.logs import install_from_env

    app = create_app(settings)
    # After the app: Sanic's own handlers exist by then and are formatted and masked alike.
    install_from_env("handoff", os.environ, "HANDOFF_LOG_LEVEL")
    app.run(host=settings.host, port=settings.port, single_process=True, access_log=False,
            motd=False)
    return 0


async def _with_auth(settings: Settings, action: str, args: argparse.Namespace) -> int:
    import redis.asyncio as aioredis
    from motor.motor_asyncio import AsyncIOMotorClient

    from handoff.auth import Authenticator, Passwords
    from handoff.models import Role
    from handoff.store import MongoAgentStore, ensure_indexes

    mongo = AsyncIOMotorClient(settings.mongodb_url, tz_aware=True, serverSelectionTimeoutMS=5000)
    redis = aioredis.from_url(settings.redis_url)
    try:
        db = mongo[settings.mongodb_db]
        await ensure_indexes(db)
        auth = Authenticator(redis, MongoAgentStore(db), settings.secret_key,
                             passwords=Passwords(settings.argon2_memory_kib,
                                                 settings.argon2_time_cost))
        if action == "create-agent":
            password = args.password or os.environ.get("HANDOFF_NEW_PASSWORD") or \
                getpass.getpass("Password for the new agent: ")
            agent = await auth.create_agent(args.id, args.email, args.name or args.id,
                                            Role(args.role), password, args.capacity)
            print(f"created {agent.role.value} {agent.id} <{agent.email}>")
        else:
            print(await auth.issue_token(args.agent, args.label))
        return 0
    finally:
        mongo.close()
        await redis.aclose()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handoff", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the service (the default)")
    agent = sub.add_parser("create-agent", help="create an agent account")
    agent.add_argument("--id", required=True)
    agent.add_argument("--email", required=True)
    agent.add_argument("--name", default="")
    agent.add_argument("--role", choices=["admin", "supervisor", "agent", "marketer"], default="agent")
    agent.add_argument("--capacity", type=int, default=5)
    agent.add_argument("--password", default="", help="else $HANDOFF_NEW_PASSWORD, else a prompt")
    token = sub.add_parser("create-token", help="issue a REST API bearer token (printed once)")
    token.add_argument("--agent", required=True)
    token.add_argument("--label", default="api")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"handoff: {exc}", file=sys.stderr)
        return 2
    if args.command in (None, "serve"):
        return _serve(settings)
    try:
        return asyncio.run(_with_auth(settings, args.command, args))
    except Exception as exc:  # a clear message for the operator, not a traceback
        print(f"handoff: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
