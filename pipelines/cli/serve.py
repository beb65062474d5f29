"""engagement serve and users: the HTTP API and who may call it."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from pipelines.cli.options import Lake, command, users_app
from pipelines.errors import UserError


@command("serve")
def cmd_serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 3000,
    public_reports: Annotated[
        bool, typer.Option("--public-reports", help="serve the report site without a login (a trusted intranet)")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="no line per request (uvicorn's access log)")] = False,
    forwarded_allow_ips: Annotated[
        Optional[str],
        typer.Option(
            metavar="IPS",
            help="trust X-Forwarded-For/-Proto from these proxy addresses (comma-separated); default: from none",
        ),
    ] = None,
    max_connections: Annotated[int, typer.Option(help="connections served at once; more get 503")] = 200,
    metrics_port: Annotated[
        Optional[int],
        typer.Option(metavar="PORT", help="also answer Prometheus' /metrics on this port (default: off)"),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(metavar="HOST", help="address the metrics port listens on")
    ] = "127.0.0.1",
    lake: Lake = None,
) -> int:
    """Serve Rocket.Chat's user-engagement API from the lake (HTTP, uvicorn).

    GET /api/v1/engagement-dashboard/users/ chat-busier/weekly-data, chat-busier/hourly-data,
    active-users and users-by-time-of-the-day-in-a-week, with Rocket.Chat's X-User-Id / X-Auth-Token
    authentication (see `engagement users`), bodies and errors. The OpenAPI document is at
    /openapi.json. ENGAGEMENT_CORS_ORIGINS (comma-separated) lets pages of those origins call it.
    The report site: /reports/ (every week) and /reports/YYYY-MM-DD (the week ending that day),
    behind a login with the same user id and token (--public-reports: no login). It prints where it
    listens, then a line per request (--quiet: none); Ctrl-C or SIGTERM stops it. Every request is
    bounded: a body of at most 64 KB (8 KB for the login; more gets 413), headers within 10 s
    (ENGAGEMENT_HEADER_TIMEOUT),
    --max-connections at once; X-Forwarded-For is trusted only from --forwarded-allow-ips.
    --metrics-port: Prometheus metrics on a port of their own (loopback unless --metrics-host): the
    data's freshness, the last loaded day's active users, the lake, the last nightly run, and this
    server's requests (docs: Monitoring).
    """
    import copy

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from pipelines.api.server import create_app
    from pipelines.lake import state as lakes
    from pipelines.settings import load_settings

    settings = load_settings(lake)
    lakes.require_lake(settings.lake)
    _check_listen(host, port)
    if max_connections < 1:
        raise UserError(f"--max-connections {max_connections} serves nobody: give 1 or more")
    registry = None
    if metrics_port is not None:
        from prometheus_client import start_http_server

        from pipelines.api.server import metrics_registry

        _check_listen(metrics_host, metrics_port)
        if (metrics_host, metrics_port) == (host, port):
            raise UserError(f"--metrics-port {metrics_port} is the API's port: give another")
        registry = metrics_registry(settings.lake)
        start_http_server(metrics_port, metrics_host, registry)
        print(f"Prometheus metrics at http://{metrics_host}:{metrics_port}/metrics", flush=True)
    app_ = create_app(settings.lake, settings.cors_origins, public_reports, registry)
    where = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    print(
        f"serving the lake {settings.lake} at {where}/ (the API under /api/v1/, the reports at /reports/)", flush=True
    )
    logging = copy.deepcopy(LOGGING_CONFIG)
    logging["loggers"]["uvicorn.error"]["level"] = "WARNING"  # uvicorn's start-up chatter: said above
    from pipelines.api.server import http_protocol

    proxies = {"proxy_headers": True, "forwarded_allow_ips": forwarded_allow_ips} if forwarded_allow_ips else {}
    uvicorn.run(
        app_,
        host=host,
        port=port,
        log_config=logging,
        log_level=None,
        access_log=not quiet,
        http=http_protocol(settings.header_timeout),
        server_header=False,
        proxy_headers=bool(proxies),
        **{k: v for k, v in proxies.items() if k != "proxy_headers"},
        limit_concurrency=max_connections,
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=16 * 1024,
    )
    return 0


def _check_listen(host: str, port: int) -> None:
    """A UserError unless host:port can be listened on (a port in use, a host that is not this machine's)."""
    import socket

    if not 1 <= port <= 65535:
        raise UserError(f"--port {port} is no port: give one from 1 to 65535")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        raise UserError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --host or --port"
        ) from None


UserId = Annotated[str, typer.Argument(metavar="USER_ID", help="Rocket.Chat's user id (visible ASCII, no spaces)")]


@command("add", users_app, "users")
def cmd_users_add(
    user_id: UserId,
    permission: Annotated[
        Optional[list[str]], typer.Option(metavar="NAME", help="a permission to grant (repeat)")
    ] = None,
    lake: Lake = None,
) -> int:
    """Add a user (or give it a new token); prints the token once."""
    from pipelines.api import users
    from pipelines.settings import load_settings

    token = users.add_user(load_settings(lake).lake, user_id, permission or None)
    print(f"user {user_id} can now call the API with headers X-User-Id and X-Auth-Token;")
    print("the token is shown this once (only a salted hash is kept):")
    print(token)
    return 0


@command("list", users_app, "users")
def cmd_users_list(lake: Lake = None) -> int:
    """List the users and their permissions."""
    from pipelines.api import users
    from pipelines.settings import load_settings

    for user_id, record in sorted(users.load_users(load_settings(lake).lake).items()):
        print(f"{user_id}\t{','.join(record['permissions'])}")
    return 0


@command("revoke", users_app, "users")
def cmd_users_revoke(user_id: UserId, lake: Lake = None) -> int:
    """Remove a user: its token stops working at once."""
    from pipelines.api import users
    from pipelines.settings import load_settings

    users.revoke_user(load_settings(lake).lake, user_id)
    print(f"user {user_id} revoked")
    return 0
