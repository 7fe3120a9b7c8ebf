"""A Twilio caller never hears an error from us: with the database down every webhook answers TwiML, the webhook
waits in the local journal, and the server replays it once, at the time it came in, when the database is back.

The outages are real: a PostgreSQL cluster of the test's own stopped and started (`postgres_server`), or the
folder of an SQLite database moved away and back; a connection killed with pg_terminate_backend in the middle of
a request; a journal folder that is a file.
"""

from __future__ import annotations

import logging
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Connection

from config.settings import Settings, SettingsError, load_settings
from dispatch.calls.models import Call, CallerLocation, CallMessage
from dispatch.clock import utcnow
from dispatch.models import Base
from dispatch.users import service as users
from telephony.spool import Spool
from tests.servers import PostgresProcess, until
from tests.telephony.test_twilio import AML_V2, TOKEN, calls, events, payload, signed
from ui import twilio_journal
from ui.app import create_app
from ui.cli import upgrade
from ui.context import Ctx, build
from ui.twilio_journal import TwilioJournal, journal_of

CALLER = "+6281234567890"
DESKS = ("+62751111111", "+62751222222")


@dataclass
class Outage:
    """A database of the test's own that can be taken away and given back."""

    ctx: Ctx
    down: Callable[[], None]
    up: Callable[[], None]


def _settings(url: str, folder: Path) -> Settings:
    return Settings(
        database_url=url, region="padang", twilio_auth_token=SecretStr(TOKEN), journal_dir=folder / "journal"
    )


def _sqlite(folder: Path) -> Iterator[Outage]:
    """SQLite whose folder is moved away: a new connection cannot open the file (the pool is emptied first)."""
    home, away = folder / "db", folder / "db-away"
    home.mkdir()
    ctx = build(_settings(f"sqlite:///{home / 'tanggap.db'}", folder))
    Base.metadata.create_all(ctx.engine)

    def down() -> None:
        ctx.engine.dispose()
        home.rename(away)

    def up() -> None:
        away.rename(home)

    yield Outage(ctx, down, up)
    ctx.engine.dispose()


def _postgres(server: PostgresProcess, folder: Path) -> Iterator[Outage]:
    """A PostgreSQL cluster of the test's own, migrated as `tanggap db upgrade` does, stopped (`fast`: every
    client connection closed, as a restart does) and started again."""
    settings = _settings(server.url, folder)
    upgrade(settings)
    ctx = build(settings)
    yield Outage(ctx, server.stop, server.start)
    ctx.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def outage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outage]:
    if request.param == "sqlite":
        yield from _sqlite(tmp_path)
    else:
        yield from _postgres(request.getfixturevalue("postgres_server"), tmp_path)


@pytest.fixture
def client(outage: Outage) -> Iterator[TestClient]:
    with TestClient(create_app(ctx=outage.ctx)) as client:
        yield client


@pytest.fixture
def no_background_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    """The replay task waits an hour between passes: what replays is the webhook's own step."""
    monkeypatch.setattr(twilio_journal, "REPLAY_EVERY_S", 3600.0)


def journal(client: TestClient) -> TwilioJournal:
    return journal_of(client.app)  # type: ignore[arg-type]


def back(outage: Outage, client: TestClient) -> None:
    """The database is back, and this server has stopped taking it for down (it failed twice a moment ago)."""
    outage.up()
    until(lambda: not journal(client).down(), "the server still takes the database for down")


def taker(ctx: Ctx, name: str) -> int:
    with ctx.sessions() as session:
        user = users.create(session=session, username=name, password="rahasia-112", role="call_taker",
                            sip_endpoint=name)  # fmt: skip
        users.set_available(session=session, user=user, available=True)
        return user.id


def snapshot(ctx: Ctx) -> dict[str, Any]:
    """Every row a Twilio step writes, and the event log."""
    with ctx.sessions() as session:
        rows = {
            "calls": [(c.id, c.channel_id, c.status, c.offered_at, c.answered_at, c.ended_at, c.classification,
                       c.source, c.taker_id) for c in session.scalars(select(Call).order_by(Call.id))],
            "messages": [(m.id, m.call_id, m.provider_ref, m.status, m.at)
                         for m in session.scalars(select(CallMessage).order_by(CallMessage.id))],
            "locations": [(r.id, r.call_id, r.raw, r.received_at)
                          for r in session.scalars(select(CallerLocation).order_by(CallerLocation.id))],
        }  # fmt: skip
    rows["events"] = [(e.seq, e.type) for e in events(ctx)]
    return rows


def near(at: datetime, when: datetime, slack_s: float = 1.0) -> bool:
    return abs((at - when).total_seconds()) <= slack_s


def test_a_call_during_the_outage_is_answered_kept_and_recorded_once_at_its_time(
    outage: Outage, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    ctx, kept = outage.ctx, journal(client)
    caplog.set_level(logging.INFO)
    outage.down()
    came = utcnow()
    voice = signed(client, "/telephony/twilio/voice", payload("voice_incoming.json"))
    assert voice.status_code == 200 and voice.headers["content-type"].startswith("application/xml")
    assert '<Say language="id-ID">Anda terhubung' in voice.text  # greeted; the flagged warning cannot be known
    assert 'waitUrl="/telephony/twilio/wait"' in voice.text and "call_id" not in voice.text  # queued by CallSid
    texted = utcnow()
    text_sms = payload("sms_incoming.json", From="+6281377778888", MessageSid="SM-out-1")
    sms = signed(client, "/telephony/twilio/sms", text_sms)
    assert sms.status_code == 200 and "<Message>112: Pesan Anda diterima" in sms.text
    fixed = utcnow()
    aml = signed(client, "/telephony/twilio/sms", payload("sms_incoming.json", Body=AML_V2, MessageSid="SM-aml-1"))
    assert aml.status_code == 200 and "<Message>" not in aml.text
    time.sleep(1.1)  # the hang-up comes later than the call: its own time must be kept
    hung_up = utcnow()
    done = signed(client, "/telephony/twilio/status", payload("voice_incoming.json", CallStatus="completed"))
    assert done.status_code == 200 and done.text.endswith("<Response />")

    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["journal"] == {"status": "degraded", "pending": 4, "error": None}
    assert stat.S_IMODE(kept.spool.folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in kept.spool.folder.iterdir()} == {0o600}
    entries = kept.spool.entries()
    assert [e["route"] for e in entries] == ["voice", "sms", "sms", "status"]
    back = utcnow()
    outage.up()
    until(lambda: kept.spool.empty(), "the journal was not replayed once the database was back")

    [voice_call, text_call] = calls(ctx)
    assert (voice_call.caller, voice_call.status, voice_call.classification) == (CALLER, "ended", "abandoned")
    assert near(voice_call.offered_at, came) and voice_call.offered_at < back  # when the caller came, not now
    assert voice_call.ended_at is not None and near(voice_call.ended_at, hung_up)
    assert text_call.is_text and near(text_call.offered_at, texted)
    with ctx.sessions() as session:
        [message] = session.scalars(select(CallMessage))
        [location] = session.scalars(select(CallerLocation))
    assert message.provider_ref == "SM-out-1" and near(message.at, texted)
    assert location.call_id == voice_call.id and location.valid and near(location.received_at, fixed)
    kinds = [e.type for e in events(ctx)]
    assert (kinds.count("call.offered"), kinds.count("call.ended"), kinds.count("call.location")) == (2, 1, 1)
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["journal"] == {"status": "ok", "pending": 0, "error": None}

    # A replay that meets the rows it already wrote changes nothing (a crash between applying and forgetting).
    before = snapshot(ctx)
    for entry in entries:
        kept.spool.append(entry)
    kept.replay()
    until(lambda: kept.spool.empty(), "the entries were not replayed again")
    assert snapshot(ctx) == before
    assert CALLER not in caplog.text and "6281234567890" not in caplog.text  # UU PDP: never a caller's number
    assert "100.35" not in caplog.text


def test_the_wait_url_without_call_id_brings_the_caller_to_a_taker_once_the_database_is_back(
    no_background_replay: None, outage: Outage, client: TestClient
) -> None:
    ctx = outage.ctx
    form = payload("voice_incoming.json", QueuePosition="1", QueueTime="5")
    outage.down()
    came = utcnow()
    signed(client, "/telephony/twilio/voice", payload("voice_incoming.json"))
    holding = signed(client, "/telephony/twilio/wait", form)
    assert holding.status_code == 200 and "<Pause" in holding.text and "antrean nomor" not in holding.text
    again = signed(client, "/telephony/twilio/queue-exit", {**form, "QueueResult": "leave"})
    assert again.status_code == 200 and ">tanggap112</Enqueue>" in again.text
    assert journal(client).spool.pending() == 1  # the queue's callbacks record nothing: not journaled
    back(outage, client)
    taker_id = taker(ctx, "client-taker1")
    leave = signed(client, "/telephony/twilio/wait", form)  # replays the call's offer first, then finds the taker
    assert "<Leave" in leave.text and journal(client).spool.empty()
    [call] = calls(ctx)
    assert near(call.offered_at, came)
    dial = signed(client, "/telephony/twilio/queue-exit", {**form, "QueueResult": "leave"})
    assert ">client-taker1</Client>" in dial.text
    assert f"/telephony/twilio/client-status?call_id={call.id}&amp;taker_id={taker_id}" in dial.text
    answered = {**form, "CallSid": "CA-client-leg", "ParentCallSid": form["CallSid"], "CallStatus": "in-progress"}
    signed(client, f"/telephony/twilio/client-status?call_id={call.id}&taker_id={taker_id}", answered)
    assert calls(ctx)[0].status == "answered" and calls(ctx)[0].taker_id == taker_id


def test_a_status_callback_after_the_outage_replays_the_calls_offer_first(
    no_background_replay: None, outage: Outage, client: TestClient
) -> None:
    outage.down()
    came = utcnow()
    signed(client, "/telephony/twilio/voice", payload("voice_incoming.json"))
    other = payload("voice_incoming.json", CallSid="CA-another-caller", From="+6281399990000")
    signed(client, "/telephony/twilio/voice", other)
    back(outage, client)
    done = signed(client, "/telephony/twilio/status", payload("voice_incoming.json", CallStatus="canceled"))
    assert done.status_code == 200
    [call] = calls(outage.ctx)  # this call's entry only: the other caller's waits for the replay task
    assert call.status == "ended" and call.classification == "abandoned" and near(call.offered_at, came)
    assert [e["sid"] for e in journal(client).spool.entries()] == ["CA-another-caller"]


@pytest.mark.parametrize("outage", ["sqlite"], indirect=True)
def test_without_the_database_the_desk_phones_ring_and_the_call_is_recorded_as_theirs(
    no_background_replay: None, outage: Outage, client: TestClient
) -> None:
    ctx = outage.ctx
    ctx.settings = ctx.settings.model_copy(update={"twilio_fallback_numbers": DESKS})
    outage.down()
    voice = signed(client, "/telephony/twilio/voice", payload("voice_incoming.json"))
    assert '<Dial action="/telephony/twilio/dial" method="POST" timeout="20">' in voice.text
    assert "<Number>+62751111111</Number><Number>+62751222222</Number>" in voice.text
    hung_up = payload("voice_incoming.json", DialCallStatus="completed", DialCallDuration="40")
    talked = signed(client, "/telephony/twilio/dial", hung_up)
    assert "<Hangup" in talked.text
    ended = utcnow()
    signed(client, "/telephony/twilio/status", payload("voice_incoming.json", CallStatus="completed"))
    outage.up()
    assert journal(client).replay() == 3
    [call] = calls(ctx)
    assert (call.status, call.source, call.classification) == ("ended", "fallback", None)  # answered: no callback
    assert call.answered_at is not None and near(call.answered_at, ended - timedelta(seconds=40))


@pytest.mark.parametrize("outage", ["sqlite"], indirect=True)
def test_when_no_desk_answers_the_caller_is_queued(outage: Outage, client: TestClient) -> None:
    outage.ctx.settings = outage.ctx.settings.model_copy(update={"twilio_fallback_numbers": DESKS})
    outage.down()
    nobody = signed(client, "/telephony/twilio/dial", payload("voice_incoming.json", DialCallStatus="no-answer"))
    assert nobody.status_code == 200 and 'waitUrl="/telephony/twilio/wait"' in nobody.text


def test_an_unwritable_journal_is_an_alarm_and_the_caller_is_still_answered(
    outage: Outage, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    kept = journal(client)
    kept.spool.folder.write_text("a file where the journal's folder should be")
    outage.down()
    first = signed(client, "/telephony/twilio/voice", payload("voice_incoming.json"))
    second = signed(client, "/telephony/twilio/voice", payload("voice_incoming.json", CallSid="CA-second"))
    assert first.status_code == second.status_code == 200 and ">tanggap112</Enqueue>" in second.text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "telephony.spool"]
    assert len(errors) == 1  # once a streak, not once a call
    health = client.get("/healthz").json()
    assert health["journal"]["status"] == "down" and "Error" in health["journal"]["error"]
    back(outage, client)
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    assert health.json()["journal"]["status"] == "down"
    # The voice webhook is lost, but the caller is in Twilio's queue: its wait URL records the call.
    queued = signed(client, "/telephony/twilio/wait", payload("voice_incoming.json", QueueTime="30"))
    assert queued.status_code == 200 and "antrean nomor 1" in queued.text
    [call] = calls(outage.ctx)
    assert near(call.offered_at, utcnow() - timedelta(seconds=30), slack_s=3)
    kept.spool.folder.unlink()  # mended: the replay task sees it can write again
    until(lambda: client.get("/healthz").json()["journal"]["status"] == "ok", "the journal alarm did not clear")


@pytest.mark.parametrize("outage", ["postgresql"], indirect=True)
def test_a_connection_killed_under_a_request_is_retried_once_and_nothing_is_journaled(
    outage: Outage, client: TestClient, postgres_server: PostgresProcess, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = outage.ctx
    admin = create_engine(postgres_server.url.replace("postgresql://", "postgresql+psycopg://"),
                          isolation_level="AUTOCOMMIT")  # fmt: skip
    killed: list[int] = []

    def kill_mid_request(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if not killed and statement.startswith("INSERT INTO calls"):
            pid = conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
            with admin.connect() as other:
                assert other.scalar(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
            killed.append(pid)

    event.listen(ctx.engine, "before_cursor_execute", kill_mid_request)
    try:
        voice = signed(client, "/telephony/twilio/voice", payload("voice_incoming.json"))
    finally:
        event.remove(ctx.engine, "before_cursor_execute", kill_mid_request)
        admin.dispose()
    assert killed and voice.status_code == 200
    [call] = calls(ctx)
    assert f"/telephony/twilio/wait?call_id={call.id}" in voice.text  # answered from the database
    assert journal(client).spool.empty() and not journal(client).spool.folder.exists()
    assert "trying once more" in caplog.text


def test_a_database_that_never_answers_fails_in_seconds_not_after_twilios_15(tmp_path: Path) -> None:
    """A PostgreSQL host that accepts the connection and then says nothing (a hung server, a half-open network):
    connecting gives up after 3 s, once more after the pause, and the caller is answered well within 15 s."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    url = f"postgresql://postgres@127.0.0.1:{silent.getsockname()[1]}/tanggap"
    ctx = build(_settings(url, tmp_path))
    answers: list[Any] = []
    try:
        with TestClient(create_app(ctx=ctx)) as client:
            try:
                started = time.monotonic()
                asking = threading.Thread(
                    target=lambda: answers.append(
                        signed(client, "/telephony/twilio/voice", payload("voice_incoming.json"))
                    ),
                    daemon=True,
                )
                asking.start()
                asking.join(12)
                took = time.monotonic() - started
            finally:
                silent.close()  # resets what waits on it, if connecting never gives up
            assert not asking.is_alive() and answers, "the webhook waited on a silent database"
            quick = signed(client, "/telephony/twilio/voice", payload("voice_incoming.json", CallSid="CA-next"))
            assert answers[0].status_code == quick.status_code == 200 and "<Enqueue" in answers[0].text
            assert 5 < took < 9 and journal(client).spool.pending() == 2
    finally:
        ctx.engine.dispose()


@pytest.fixture
def ctx(settings: Settings, tmp_path: Path) -> Iterator[Ctx]:
    """The shared test databases (SQLite, the machine's PostgreSQL in a schema of its own), never taken down."""
    settings = settings.model_copy(update={"twilio_auth_token": SecretStr(TOKEN), "journal_dir": tmp_path / "j"})
    ctx = build(settings)
    Base.metadata.create_all(ctx.engine)
    yield ctx
    ctx.engine.dispose()


def test_every_step_replayed_twice_changes_nothing(no_background_replay: None, ctx: Ctx) -> None:
    """Each kind of webhook, kept and replayed, then replayed again from the same entries: the second time
    writes no row and records no event. Twilio references make each step idempotent."""
    with TestClient(create_app(ctx=ctx)) as client:
        kept = journal(client)
        taker_id = taker(ctx, "client-taker1")
        signed(client, "/telephony/twilio/voice", payload("voice_incoming.json"))
        [call] = calls(ctx)
        signed(client, f"/telephony/twilio/wait?call_id={call.id}", {})  # reserves the taker
        with ctx.sessions() as session:
            session.add(CallMessage(call_id=call.id, direction="out", body="Kami datang", at=utcnow(),
                                    status="sent", provider_ref="SM-reply"))  # fmt: skip
            session.commit()
            reply_id = session.scalar(select(CallMessage.id))
        at = utcnow().isoformat()
        sid = payload("voice_incoming.json")["CallSid"]

        def entry(route: str, form: dict[str, str], **query: object) -> dict[str, Any]:
            query_s = {k: str(v) for k, v in query.items()}
            return {"v": 1, "route": route, "at": at, "sid": sid, "desks": False, "form": form, "query": query_s}

        steps = [
            entry("dial", {"CallSid": sid, "DialCallStatus": "no-answer"}, call_id=call.id, taker_id=taker_id),
            entry(
                "client-status",
                {"CallSid": "CA-leg", "ParentCallSid": sid, "CallStatus": "in-progress"},
                call_id=call.id,
                taker_id=taker_id,
            ),
            entry("status", payload("voice_incoming.json", CallStatus="completed")),
            entry("voice", payload("voice_incoming.json", CallSid="CA-new")),
            entry("sms", payload("sms_incoming.json", MessageSid="SM-text")),
            entry("sms", payload("sms_incoming.json", MessageSid="SM-aml", Body=AML_V2)),
            entry("sms-status", {"MessageSid": "SM-unit", "MessageStatus": "delivered"}, unit_id=1, incident_id=2),
            entry("sms-status", {"MessageSid": "SM-reply", "MessageStatus": "delivered"}, reply_id=reply_id),
        ]
        for step in steps:
            kept.spool.append(step)
        assert kept.replay() == len(steps)
        once = snapshot(ctx)
        kinds = [kind for _, kind in once["events"]]
        assert kinds.count("call.requeued") == kinds.count("call.answered") == kinds.count("sms.status") == 1
        assert len(once["calls"]) == 3 and len(once["locations"]) == 1 and once["messages"][0][3] == "delivered"
        for step in steps:
            kept.spool.append(step)
        assert kept.replay() == len(steps)
        assert snapshot(ctx) == once
        assert not kept.set_aside.path.exists()


def test_an_entry_that_cannot_be_applied_is_set_aside_and_the_others_go_on(
    no_background_replay: None, ctx: Ctx, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(create_app(ctx=ctx)) as client:
        kept = journal(client)
        at = utcnow().isoformat()
        voice = payload("voice_incoming.json")
        kept.spool.append({"v": 1, "route": "transfer", "at": at, "sid": "CA-x", "form": {}, "query": {}})
        kept.spool.append({"v": 1, "route": "voice", "at": at, "sid": voice["CallSid"], "form": voice, "query": {}})
        assert kept.replay() == 2
        assert len(calls(ctx)) == 1 and kept.spool.empty()
        assert kept.set_aside.pending() == 1 and kept.set_aside.entries()[0]["route"] == "transfer"
        health = client.get("/healthz").json()
        assert health["status"] == "degraded" and health["journal"]["rejected"] == 1
    assert "set aside" in caplog.text


def test_nothing_appended_while_replays_run_is_lost_or_applied_twice(tmp_path: Path) -> None:
    """Servers on one host share the journal folder: several writers and two replayers, each with its own
    `Spool` and file handles, as separate processes have. Every entry is applied once, each writer's in order."""
    applied: list[int] = []
    writing = threading.Event()

    def write(first: int) -> None:
        for n in range(first, first + 150):
            Spool(tmp_path, "twilio").append({"n": n})

    def replay() -> None:
        spool = Spool(tmp_path, "twilio")
        while writing.is_set() or not spool.empty():
            spool.replay_some(lambda e: applied.append(e["n"]), limit=40)

    writing.set()
    writers = [threading.Thread(target=write, args=(k * 1000,)) for k in range(4)]
    replayers = [threading.Thread(target=replay) for _ in range(2)]
    for thread in writers + replayers:
        thread.start()
    for thread in writers:
        thread.join()
    writing.clear()
    for thread in replayers:
        thread.join()
    assert sorted(applied) == [k * 1000 + n for k in range(4) for n in range(150)]
    for k in range(4):
        mine = [n for n in applied if k * 1000 <= n < (k + 1) * 1000]
        assert mine == sorted(mine)


@pytest.mark.parametrize(
    ("value", "numbers"),
    [("+62751111111, +62751222222", DESKS), ('["+62751111111"]', DESKS[:1]), ("", ())],
)
def test_fallback_numbers_are_read_from_a_list(value: str, numbers: tuple[str, ...]) -> None:
    assert Settings(twilio_fallback_numbers=value).twilio_fallback_numbers == numbers  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["0751111111", "+62 751 111", "+62751111111," * 11, "tel:+62751111111"])
def test_fallback_numbers_must_be_e164(value: str) -> None:
    with pytest.raises(SettingsError, match="TANGGAP_TWILIO_FALLBACK_NUMBERS"):
        load_settings(twilio_fallback_numbers=value)
