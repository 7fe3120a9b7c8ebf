"""The `tanggap` command line: serve, demo, database, backups, seeding, users, station import, road graphs."""

from __future__ import annotations

import logging
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from config.settings import Settings, SettingsError, load_settings
from telephony import cli as telephony_cli

if TYPE_CHECKING:
    from geo.gazetteer import Entry

app = typer.Typer(
    help="Tanggap 112: emergency-call dispatch for Indonesian command centers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="Users and roles.", no_args_is_help=True)
import_app = typer.Typer(help="Load a command center's own data.", no_args_is_help=True)
geo_app = typer.Typer(help="Geography: road networks, landmarks and streets.", no_args_is_help=True)
alerts_app = typer.Typer(help="Public alerts (CAP 1.2 from BMKG, InaTEWS).", no_args_is_help=True)
shelters_app = typer.Typer(help="Shelters and evacuation points of a major incident.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(import_app, name="import")
app.add_typer(geo_app, name="geo")
app.add_typer(alerts_app, name="alerts")
app.add_typer(shelters_app, name="shelters")
app.command("ari")(telephony_cli.ari)
app.command("agi")(telephony_cli.agi)

ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"
DEMO_USERS = (
    ("calltaker", "call_taker", "Petugas Penerima Panggilan", None),
    ("dispatcher", "dispatcher", "Petugas Dispatcher", None),
    ("supervisor", "supervisor", "Supervisor", None),
    ("admin", "admin", "Administrator", None),
    ("responder", "responder", "Regu Damkar", "damkar"),
    ("ambulans", "responder", "Tim Ambulans PSC 119", "psc119"),
    ("opd", "opd", "Meja Pengaduan Dishub", "dishub"),  # an agency's desk: the agency itself, not a unit of it
)


def _settings(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _logging(settings: Settings) -> None:
    from ui import logfilter

    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logfilter.install()


def upgrade(settings: Settings) -> None:
    from alembic.config import Config

    from alembic import command

    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    cfg.set_main_option("sqlalchemy.url", settings.sqlalchemy_url.replace("%", "%%"))
    command.upgrade(cfg, "head")


def at_head(settings: Settings) -> bool:
    """Whether the database's schema is already at the newest migration, found without loading alembic (a third
    of a second of every restart): the heads the migration files name against `alembic_version`'s rows. Any
    doubt (a file not in alembic's shape, no such table, no database) is False, and alembic decides."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    heads = migration_heads()
    if not heads:
        return False
    engine = create_engine(settings.sqlalchemy_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            found = set(connection.scalars(text("SELECT version_num FROM alembic_version")))
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()
    return found == heads


_REVISION = re.compile(r"^revision(?:: [^=]+)? = ['\"]([^'\"]+)['\"]\s*$", re.MULTILINE)
_DOWN = re.compile(r"^down_revision(?:: [^=]+)? = (.+)$", re.MULTILINE)


def migration_heads() -> set[str]:
    """The revisions no migration file revises; empty when a file does not read as alembic writes them."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (ALEMBIC_DIR / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.findall(source), _DOWN.findall(source)
        if len(revision) != 1 or len(down) != 1 or not re.fullmatch(r"None|\(?['\"].*", down[0].strip()):
            return set()
        revisions.add(revision[0])
        revised.update(re.findall(r"['\"]([^'\"]+)['\"]", down[0]))
    return revisions - revised


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest version."""
    settings = _settings()
    upgrade(settings)
    typer.echo(f"database schema is up to date ({settings.database_url.split('@')[-1]})")


@app.command()
def backup(path: Annotated[Path, typer.Argument(help="The backup file to write")]) -> None:
    """Write a consistent copy of the database to PATH (safe while the server runs)."""
    from dispatch import backup as backups

    settings = _settings()
    try:
        info = backups.backup(settings.sqlalchemy_url, path)
    except backups.BackupError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"backed up {_where(settings)} to {path} ({info.kind}, schema revision {info.revision})")


@app.command()
def restore(
    path: Annotated[Path, typer.Argument(help="A file written by tanggap backup")],
    yes: Annotated[bool, typer.Option("--yes", help="Replace the database without asking")] = False,
) -> None:
    """Replace every row of the database with a backup, then migrate it to this version's schema."""
    from alembic.script import ScriptDirectory

    from dispatch import backup as backups

    settings = _settings()
    try:
        info = backups.describe(path, backups.kind_of(settings.sqlalchemy_url))
    except backups.BackupError as exc:
        raise _fail(str(exc)) from None
    known = {script.revision for script in ScriptDirectory(str(ALEMBIC_DIR)).walk_revisions()}
    if info.revision not in known:  # the migrations could not bring it to this version: refuse before writing
        raise _fail(f"{path} is from a newer Tanggap (schema revision {info.revision}); upgrade Tanggap first")
    if not yes and not typer.confirm(f"Replace every row of {_where(settings)} with {path}?", default=False):
        typer.echo("nothing restored", err=True)
        raise typer.Exit(1)
    try:
        backups.restore(settings.sqlalchemy_url, path)
    except backups.BackupError as exc:
        raise _fail(str(exc)) from None
    upgrade(settings)  # a backup from an older version gets this version's schema
    typer.echo(f"restored {path} (schema revision {info.revision}) into {_where(settings)}; schema is up to date")


def _where(settings: Settings) -> str:
    """The database, without credentials."""
    return settings.database_url.split("@")[-1]


@app.command()
def seed(region: Annotated[str | None, typer.Option(help="Region pack: padang or banggai")] = None) -> None:
    """Load a region pack (agencies, catalogue, stations, units) into the database."""
    settings = _settings(**({"region": region} if region else {}))
    upgrade(settings)
    counts = _seed(settings)
    typer.echo(f"seeded {settings.region}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


def _seed(settings: Settings) -> dict[str, int]:
    from dispatch.errors import DomainError
    from dispatch.regions import seed as seed_pack
    from ui.context import build

    ctx = build(settings)
    with ctx.sessions() as session:
        try:
            return seed_pack(session, ctx.region.pack)
        except DomainError as exc:
            raise _fail(f"{exc.message} ({_where(settings)})") from None


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[str, typer.Option(help="call_taker, dispatcher, responder, supervisor, admin, telephony, opd")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    name: Annotated[str | None, typer.Option()] = None,
    unit: Annotated[str | None, typer.Option(help="Callsign of the unit (responders)")] = None,
    agency: Annotated[str | None, typer.Option(help="Code of the agency (opd: an agency's desk)")] = None,
    sip: Annotated[str | None, typer.Option(help="SIP endpoint the PBX rings (call-takers)")] = None,
) -> None:
    """Create a user."""
    from dispatch.errors import DomainError
    from dispatch.users import service as users
    from ui.context import build

    ctx = build(_settings())
    with ctx.sessions() as session:
        try:
            user = users.create(
                session=session,
                username=username,
                password=password,
                role=role,
                name=name,
                unit_callsign=unit,
                agency_code=agency,
                sip_endpoint=sip,
            )
        except DomainError as exc:
            raise _fail(exc.message) from None
    typer.echo(f"created {user.role} {user.username}")


@import_app.command("stations")
def import_stations(path: Path) -> None:
    """Load stations from CSV (code,name,agency,lat,lon[,kecamatan_code]) or GeoJSON points."""
    from dispatch.errors import DomainError
    from dispatch.regions import import_stations as load
    from ui.context import build

    ctx = build(_settings())
    with ctx.sessions() as session:
        try:
            count = load(session, path)
        except DomainError as exc:
            raise _fail(exc.message) from None
    typer.echo(f"imported {count} stations from {path}")


@geo_app.command("import-osm")
def import_osm(
    path: Path,
    out: Annotated[Path, typer.Option(help="Where to store the graph")] = Path("roads.npz"),
    landmarks: Annotated[bool, typer.Option(help="Also take its named places and streets")] = True,
) -> None:
    """Build a routable road graph from an OpenStreetMap extract (.osm.pbf), and put its named places and
    streets into the region's landmark index."""
    from geo.errors import BadOsmFile
    from geo.osm import read_landmarks
    from geo.roads import import_osm as build_graph

    try:
        summary = build_graph(path, out)
        typer.echo(f"road graph written to {out}: {summary}")
        typer.echo(f"use it with TANGGAP_ROAD_GRAPH={out.resolve()}")
        if landmarks:
            _save_landmarks(read_landmarks(path), "osm", f"{path.name}")
    except BadOsmFile as exc:
        raise _fail(str(exc)) from None


@geo_app.command("import-landmarks")
def import_landmarks(
    path: Annotated[Path, typer.Argument(help="CSV (name,lat,lon[,kind,accuracy_m,alt_names]) or GeoJSON")],
) -> None:
    """Load the command center's own list of landmarks into the region's landmark index (it replaces the list
    loaded before). Every row is checked first: a bad file changes nothing."""
    from geo.landmarks import BadLandmarkFile, read_file

    try:
        entries = read_file(path, source="center")
    except BadLandmarkFile as exc:
        raise _fail(str(exc)) from None
    _save_landmarks(entries, "center", path.name)


def _save_landmarks(entries: list[Entry], name: str, origin: str) -> None:
    """Name each entry's kecamatan and kelurahan, leave out those far outside the region, and write the
    region's landmark file `name` (a running server reads it when it next starts)."""
    from dispatch.context import Policy
    from dispatch.regions import load_pack
    from geo.jurisdiction import Jurisdictions
    from geo.landmarks import in_region, write_geojson

    settings = _settings()
    pack = load_pack(settings.region_dir)
    kept, dropped = in_region(entries, Jurisdictions.load(pack.geo_dir), max_outside_m=Policy().max_outside_m)
    target = settings.landmark_dir / settings.region / f"{name}.geojson"
    write_geojson(kept, target)
    streets = sum(1 for e in kept if e.line is not None)
    typer.echo(f"{len(kept) - streets} landmarks and {streets} streets of {origin} written to {target}")
    if dropped:
        typer.echo(f"{dropped} left out: more than {Policy().max_outside_m / 1000:.0f} km outside {pack.name}")
    typer.echo("restart the server to search them")


@alerts_app.command("import")
def alerts_import(path: Annotated[Path, typer.Argument(help="A CAP 1.2 <alert> file (.xml)")]) -> None:
    """Take a CAP 1.2 alert from a file, as a supervisor's POST /api/v1/alerts/cap would (kept once)."""
    from dispatch.alerts import service as alerts
    from dispatch.alerts.parse import MAX_BYTES, parse
    from dispatch.errors import DomainError
    from ui.context import build

    try:
        with path.open("rb") as file:
            document = file.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc.strerror}") from None
    ctx = build(_settings())
    try:
        message = parse(document)
        with ctx.sessions() as session:
            decision = alerts.ingest(
                session=session, geo_dir=ctx.region.pack.geo_dir, message=message, source="cli", actor="cli"
            )
    except DomainError as exc:
        raise _fail(exc.message) from None
    alert = decision.alert
    where = {True: "applies to the region", False: "outside the region", None: "no area: awaits a supervisor"}
    typer.echo(
        f"alert #{alert.id} {decision.action}: {alert.event} ({alert.status}, {alert.sender} {alert.identifier}); "
        f"{where[decision.relevant_to_region]}"
    )


@shelters_app.command("import")
def shelters_import(
    path: Annotated[Path, typer.Argument(help="CSV: name,kind,lat,lon[,accuracy_m,capacity,kecamatan,address,source]")],
) -> None:
    """Load the command center's own list of shelters and evacuation points; it replaces the region pack's. Every
    row is checked first (far outside the region is refused): a bad file changes nothing."""
    from dispatch.errors import DomainError
    from dispatch.major import shelters
    from ui.context import build

    settings = _settings()
    region = build(settings).region
    try:
        found = shelters.read(path)
        shelters.check_in_region(found, region.locate)
    except DomainError as exc:
        raise _fail(exc.message) from None
    target = settings.landmark_dir / settings.region / shelters.FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(path.read_text(encoding="utf-8-sig"), encoding="utf-8")
    typer.echo(f"{len(found)} shelters of {path.name} written to {target}; they replace {region.pack.name}'s list")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    region: Annotated[str | None, typer.Option(help="Region pack (else TANGGAP_REGION): padang or banggai")] = None,
) -> None:
    """Run the server (API, websocket, console)."""
    settings = _settings(**({"region": region} if region else {}))
    _logging(settings)
    _serve(settings, host=host, port=port)


def _serve(settings: Settings, *, host: str | None, port: int | None) -> None:
    import uvicorn

    from ui.app import create_app

    if not at_head(settings):  # after an update, or on a new database; a restart skips loading alembic
        upgrade(settings)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
        ws="websockets-sansio",
        ws_per_message_deflate=False,  # a LAN console gains nothing; each event would be compressed per client
        ws_max_size=65536,
    )


def demo_users(settings: Settings, password: str) -> list[tuple[str, str]]:
    """One user per role (two responders bound to units, a Dishub desk). Existing demo users get the new password."""
    from sqlalchemy import select

    from dispatch.agencies.models import Agency, Station, Unit
    from dispatch.users import service as users
    from dispatch.users.models import User
    from ui.context import build

    ctx = build(settings)
    made = []
    with ctx.sessions() as session:
        for username, role, name, agency in DEMO_USERS:
            unit = None
            if agency and role == "responder":
                unit = session.scalars(
                    select(Unit)
                    .join(Agency)
                    .outerjoin(Station, Unit.station_id == Station.id)
                    .where(Agency.code == agency)
                    .order_by(Unit.callsign)
                ).first()
            existing = session.scalar(select(User).where(User.username == username))
            if existing is not None:
                users.set_password(session=session, user=existing, password=password)
            else:
                users.create(
                    session=session,
                    username=username,
                    password=password,
                    role=role,
                    name=name,
                    unit_callsign=unit.callsign if unit else None,
                    agency_code=agency if role == "opd" else None,
                    sip_endpoint="taker1" if role == "call_taker" else None,
                )
            bound = unit.callsign if unit else agency if role == "opd" else None
            made.append((username, role + (f" ({bound})" if bound else "")))
    return made


@app.command()
def demo(
    region: Annotated[str, typer.Option(help="Region pack: padang or banggai")] = "padang",
    port: Annotated[int | None, typer.Option()] = None,
    no_serve: Annotated[bool, typer.Option(help="Seed and create users, then exit")] = False,
    simulate: Annotated[
        bool, typer.Option(help="Ring a simulated 112 call every 20-60 s (else TANGGAP_SIMULATE)")
    ] = False,
) -> None:
    """Seed a region, create one user per role, and start the server at http://127.0.0.1:8112."""
    settings = _settings(region=region, **({"simulate": True} if simulate else {}))
    _logging(settings)
    upgrade(settings)
    counts = _seed(settings)
    password = settings.demo_password.get_secret_value() if settings.demo_password else secrets.token_urlsafe(9)
    made = demo_users(settings, password)
    url = f"http://{settings.host}:{port or settings.port}"
    lines = [
        "",
        f"Tanggap 112 demo — {region}: " + ", ".join(f"{v} {k}" for k, v in counts.items()),
        f"Open {url}/ and log in as one of (password: {password}):",
        *[f"  {name:<11} {role}" for name, role in made],
        f"  console {url}/console · responder {url}/responder · supervisor {url}/supervisor · agency {url}/opd",
        f"  API docs {url}/docs · health {url}/healthz",
        (
            "  Simulated calls ring every 20-60 s; supervisors and admins can ring one from their page."
            if settings.simulate
            else "  No calls ring by themselves: add --simulate, or POST them to /api/v1/calls (README, Demo)."
        ),
        "",
    ]
    typer.echo("\n".join(lines))
    if not no_serve:
        _serve(settings, host=None, port=port)  # the region chosen here, not TANGGAP_REGION's


def main() -> None:
    app()


if __name__ == "__main__":
    main()
