"""`tanggap ari` and `tanggap agi`: the telephony bridge as its own process (mounted by ui/cli.py)."""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer

from config.settings import Settings, SettingsError, load_settings

app = typer.Typer(help="Telephony bridges (Asterisk ARI, FastAGI).", no_args_is_help=True)


def _setup() -> Settings:
    try:
        settings = load_settings()
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return settings


@app.command("ari")
def ari(
    api_url: Annotated[
        str, typer.Option(help="The Tanggap server, e.g. http://127.0.0.1:8112")
    ] = "http://127.0.0.1:8112",
    token: Annotated[str | None, typer.Option(help="Bearer token of a 'telephony' user (or TANGGAP_API_TOKEN)")] = None,
) -> None:
    """Run the ARI bridge and FastAGI against a server reached over its HTTP API."""
    from telephony.run import main_remote

    settings = _setup()
    token = token or os.environ.get("TANGGAP_API_TOKEN")
    if not token:
        typer.echo("error: give --token or TANGGAP_API_TOKEN (tanggap user add bridge --role telephony)", err=True)
        raise typer.Exit(2)
    main_remote(settings, api_url, token)


@app.command("agi")
def agi(
    api_url: Annotated[str, typer.Option(help="The Tanggap server")] = "http://127.0.0.1:8112",
    token: Annotated[str | None, typer.Option(help="Bearer token of a 'telephony' user")] = None,
) -> None:
    """Run only the FastAGI triage server (TANGGAP_AGI_HOST:TANGGAP_AGI_PORT), looking callers up over the API."""
    import asyncio

    from telephony.agi import FastAgiServer, lookup_via
    from telephony.desk import HttpDesk

    settings = _setup()
    token = token or os.environ.get("TANGGAP_API_TOKEN")
    if not token:
        typer.echo("error: give --token or TANGGAP_API_TOKEN", err=True)
        raise typer.Exit(2)

    async def serve() -> None:
        desk = HttpDesk(api_url, token)
        server = FastAgiServer(
            settings.agi_host, settings.agi_port, lookup_via(desk.triage, asyncio.get_running_loop())
        )
        server.start()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.to_thread(server.stop)
            await desk.close()

    asyncio.run(serve())
