"""The demo's call simulator (issue 23, finding 1: nothing rang in the demo): its script, the mix it draws, and its
calls going through the real intake on SQLite and PostgreSQL, driven one tick at a time by a test clock."""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from config.settings import REGIONS_DIR
from dispatch.calls import abuse, locations, messages, transcript
from dispatch.calls import service as calls
from dispatch.clock import utcnow
from dispatch.events.models import Event
from dispatch.lifecycle import CallClass, CallStatus
from geo.gazetteer import Gazetteer
from telephony import aml
from ui import scenarios
from ui.app import create_app
from ui.context import Ctx
from ui.scenarios import Script, ScriptError
from ui.simulator import PROVIDER, Simulator, aml_sms, simulate_forever

Headers = dict[str, dict[str, str]]
CATALOGUE = {
    line.split('"')[1]
    for line in (REGIONS_DIR / "catalogue.toml").read_text(encoding="utf-8").splitlines()
    if line.startswith("code = ")
}


class Clock:
    """The simulator's clock, moved by the test: no test sleeps."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(scope="module")
def script() -> Script:
    return scenarios.load(type_codes=CATALOGUE)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def simulator(ctx: Ctx, script: Script, clock: Clock, **changes: object) -> Simulator:
    """A simulator of this script, its callers changed (`pranksters=...`) or its scenarios cut to one kind
    (`only=(kind, text)`)."""
    only = changes.pop("only", None)
    if only is not None:
        kept = tuple(s for s in script.scenarios if (s.kind, s.text) == only)
        script = replace(script, scenarios=kept, mix={only[0]: 1.0})
    if changes:
        script = replace(script, callers=replace(script.callers, **changes))  # type: ignore[arg-type]
    return Simulator(ctx, script, rng=random.Random(112), clock=clock)


# ---- the script -----------------------------------------------------------------------------------------------


def test_the_scenarios_cover_every_kind_in_bahasa_with_types_of_the_catalogue(script: Script) -> None:
    assert set(script.mix) == set(scenarios.KINDS)
    kinds = Counter(s.kind for s in script.scenarios)
    assert all(kinds[k] >= 3 for k in scenarios.KINDS), kinds
    assert all(s.type_code for s in script.scenarios if s.kind in ("emergency", "complaint"))
    assert {s.kind for s in script.scenarios if s.text} >= {"emergency", "prank", "information"}  # text calls too
    assert all(s.words.startswith("[") for s in script.scenarios if s.kind == "silent")  # sounds, not words
    assert sum(s.weight for s in script.scenarios if s.kind == "emergency") == 100  # Jakarta's emergencies, in %
    assert script.callers.aml_handsets < set(script.callers.ordinary) | set(script.callers.pranksters)
    assert script.timing.ring_every_s == (20, 60)


@pytest.mark.parametrize(
    ("right", "wrong", "said"),
    [
        ('type = "fire_house"', 'type = "volcano"', "type 'volcano' is not in the region's catalogue"),
        ("terbakar di {place}", "terbakar di {street}", "the words may hold only {place} and {kecamatan}"),
        ("silent = 49", "ghostly = 49", "[mix]: kinds are"),
        ('"+6289612340517"', '"089612340517"', "[callers]: E.164 numbers"),
    ],
)
def test_a_broken_script_is_refused_with_the_reason(tmp_path: Path, right: str, wrong: str, said: str) -> None:
    path = tmp_path / "scenarios.toml"
    path.write_text(scenarios.SCENARIOS.read_text(encoding="utf-8").replace(right, wrong, 1), encoding="utf-8")
    with pytest.raises(ScriptError, match=re.escape(said)):
        scenarios.load(path, type_codes=CATALOGUE)


def test_the_mix_over_many_draws_is_the_jakarta_mix(script: Script) -> None:
    places = scenarios.places_of(Gazetteer.load(REGIONS_DIR / "padang" / "geo"))
    rng = random.Random(2024)
    draws = [scenarios.draw(script, places, rng) for _ in range(5000)]
    total = sum(script.mix.values())
    kinds = Counter(d.scenario.kind for d in draws)
    for kind, weight in script.mix.items():
        assert kinds[kind] / len(draws) == pytest.approx(weight / total, abs=0.02), kind
    assert kinds["emergency"] < 0.15 * len(draws) < 0.6 * len(draws) < kinds["silent"] + kinds["prank"]
    abusive = [d for d in draws if d.scenario.kind in scenarios.ABUSIVE]
    pranksters = Counter(d.caller for d in abusive if d.caller in script.callers.pranksters)
    assert len(pranksters) == 3 and sum(pranksters.values()) / len(abusive) == pytest.approx(0.54, abs=0.04)
    hidden = [d for d in draws if d.caller is None]
    assert all(d.scenario.kind in scenarios.ABUSIVE and not d.scenario.text for d in hidden)  # a voice prank hides
    assert 0.05 < sum(d.caller is None for d in abusive) / len(abusive) < 0.15
    assert 0.01 < sum(d.scenario.text for d in draws) / len(draws) < 0.06  # some text calls
    assert all(d.aml == (d.caller in script.callers.aml_handsets and not d.scenario.text) for d in draws)
    assert all("{" not in d.words for d in draws)


def test_callers_name_places_of_their_own_region(script: Script) -> None:
    named: dict[str, set[str]] = {}
    for region in ("padang", "banggai"):
        places = scenarios.places_of(Gazetteer.load(REGIONS_DIR / region / "geo"))
        assert len(places) > 100 and {p.kind for p in places} <= scenarios.PLACE_KINDS
        rng = random.Random(7)
        draws = [scenarios.draw(script, places, rng, kind="emergency") for _ in range(400)]
        named[region] = {d.place.name for d in draws}
        assert named[region] <= {p.name for p in places}
        assert all(d.place.name in d.words or str(d.place.kecamatan) in d.words for d in draws)
    assert len(named["padang"] & named["banggai"]) < 3  # Padang callers name Padang, Banggai callers Banggai


def test_a_busy_number_is_not_drawn_again_while_others_are_free(script: Script) -> None:
    places = scenarios.places_of(Gazetteer.load(REGIONS_DIR / "padang" / "geo"))
    busy = set(script.callers.pranksters[:2]) | set(script.callers.ordinary[:-1])
    rng = random.Random(1)
    callers = {scenarios.draw(script, places, rng, kind="prank", busy=busy).caller for _ in range(200)}
    assert callers <= {None, script.callers.pranksters[2], script.callers.ordinary[-1]}


def test_the_aml_sms_is_one_the_parser_reads() -> None:
    at = utcnow().replace(microsecond=0)
    text = aml_sms(-0.949123, 100.354456, radius_m=17.4, at=at)
    fix = aml.parse(text)
    assert (fix.lat, fix.lon, fix.accuracy_m, fix.fix_at, fix.source) == (-0.949123, 100.354456, 17, at, "gnss")
    assert text.endswith(f"ml={len(text)}")


# ---- through the intake, on SQLite and PostgreSQL ---------------------------------------------------------------


def test_one_tick_rings_a_call_through_the_intake(ctx: Ctx, script: Script, clock: Clock) -> None:
    sim = simulator(ctx, script, clock)
    assert sim.tick() is None  # not due yet: the first call rings 20-60 s after start
    clock.advance(60)
    call_id = sim.tick()
    assert call_id is not None and sim.tick() is None  # one call a tick, the next one 20-60 s later
    assert timedelta(seconds=20) <= sim.next_ring - clock.now <= timedelta(seconds=60)
    with ctx.sessions() as session:
        call = calls.get(session=session, call_id=call_id)
        assert (call.provider, call.dialled, call.channel_id[:4]) == (PROVIDER, "112", "sim-")
        assert call.status == CallStatus.offered and call in calls.waiting(session=session)
        kinds = session.scalars(select(Event.type).where(Event.call_id == call_id).order_by(Event.seq)).all()
        assert kinds[0] == "call.offered" and ("call.queued" in kinds or call.is_text)


def test_a_caller_nobody_answers_hangs_up_and_is_called_back(ctx: Ctx, script: Script, clock: Clock) -> None:
    sim = simulator(ctx, script, clock, only=("emergency", False))
    with ctx.sessions() as session:
        call_id = sim.ring(session=session).id
    clock.advance(59)
    sim.tick()
    with ctx.sessions() as session:
        assert calls.get(session=session, call_id=call_id).status == CallStatus.offered  # patient for 60-90 s
    clock.advance(31)
    sim.tick()
    with ctx.sessions() as session:
        call = calls.get(session=session, call_id=call_id)
        assert (call.status, call.classification) == (CallStatus.ended, CallClass.abandoned)
        assert call_id in {c.id for c in calls.callbacks(session=session)}
    assert call_id not in {c.call_id for c in sim.on_line()}  # off the line (a next call may ring meanwhile)


def test_an_answered_caller_says_their_words_and_a_silent_one_hangs_up(ctx: Ctx, script: Script, clock: Clock) -> None:
    talking = simulator(ctx, script, clock, only=("emergency", False))
    silent = simulator(ctx, script, clock, only=("silent", False))
    with ctx.sessions() as session:
        spoken = talking.ring(session=session).id
        quiet = silent.ring(session=session).id
        for call_id in (spoken, quiet):
            calls.answer(session=session, call_id=call_id, taker_id=None, actor="calltaker")
    talking.tick()
    silent.tick()
    with ctx.sessions() as session:
        (said,) = transcript.for_call(session=session, call_id=spoken)
        assert said["words"] == talking.on_line()[0].draw.words and said["speaker"] == "caller"
        assert said["scenario"]["kind"] == "emergency" and said["scenario"]["type_code"] in CATALOGUE
        assert transcript.for_call(session=session, call_id=quiet)[0]["words"].startswith("[")
    clock.advance(41)
    talking.tick()
    silent.tick()
    with ctx.sessions() as session:
        assert calls.get(session=session, call_id=quiet).status == CallStatus.ended  # 20-40 s after the answer
        assert calls.get(session=session, call_id=spoken).status == CallStatus.answered  # until the taker ends it
        assert len(transcript.for_call(session=session, call_id=spoken)) == 1  # said once


def test_a_handset_with_aml_sends_a_fix_near_the_place(ctx: Ctx, script: Script, clock: Clock) -> None:
    everyone = frozenset(script.callers.ordinary)
    sim = simulator(ctx, script, clock, only=("emergency", False), aml_handsets=everyone)
    with ctx.sessions() as session:
        call_id = sim.ring(session=session).id
    place = sim.on_line()[0].draw.place
    clock.advance(21)
    sim.tick()
    with ctx.sessions() as session:
        (fix,) = locations.for_call(session=session, call_id=call_id)
    assert fix.source == "aml" and fix.raw is not None and aml.parse(fix.raw).lat == fix.lat
    assert abs(fix.lat - place.lat) < 0.004 and abs(fix.lon - place.lon) < 0.004  # within ~400 m
    ctx.region.locate(fix.lat, fix.lon)  # a point of this region (Invalid far outside it)


def test_a_repeat_prankster_is_flagged_by_their_repeated_number(ctx: Ctx, script: Script, clock: Clock) -> None:
    number = script.callers.pranksters[0]
    sim = simulator(ctx, script, clock, only=("prank", False), pranksters=(number,), prankster_share=1.0,
                    withheld_share=0.0)  # fmt: skip
    with ctx.sessions() as session:
        for _ in range(3):
            call = sim.ring(session=session)
            assert (call.caller, call.flagged) == (number, False)
            calls.answer(session=session, call_id=call.id, taker_id=None, actor="calltaker")
            calls.classify(session=session, call_id=call.id, classification="prank", actor="calltaker",
                           policy=ctx.region.policy)  # fmt: skip
            calls.end(session=session, call_id=call.id, actor="calltaker")
            sim.tick()  # the prankster is off the line: free to call again
        fourth = sim.ring(session=session)
        assert (fourth.caller, fourth.flagged) == (number, True)  # still rings: a prankster can have an emergency
        assert abuse.status(session=session, caller=number, policy=ctx.region.policy).flagged


def test_a_text_call_comes_as_an_sms_and_ends_if_nobody_answers(ctx: Ctx, script: Script, clock: Clock) -> None:
    sim = simulator(ctx, script, clock, only=("emergency", True))
    with ctx.sessions() as session:
        call = sim.ring(session=session)
        assert call.is_text and call.text == sim.on_line()[0].draw.words
        assert [m.body for m in messages.for_call(session=session, call_id=call.id)] == [call.text]
    clock.advance(599)
    sim.tick()
    clock.advance(2)
    sim.tick()
    with ctx.sessions() as session:
        ended = calls.get(session=session, call_id=call.id)
        assert ended.status == CallStatus.ended and ended.classification is None  # a text call is not abandoned
        assert transcript.for_call(session=session, call_id=call.id) == []  # its words are its SMS


def test_calls_left_ringing_by_an_earlier_run_hang_up_at_start(ctx: Ctx, script: Script, clock: Clock) -> None:
    earlier = simulator(ctx, script, clock, only=("emergency", False))
    with ctx.sessions() as session:
        left = earlier.ring(session=session).id
        kept = earlier.ring(session=session).id
        calls.answer(session=session, call_id=kept, taker_id=None, actor="calltaker")
        restarted = simulator(ctx, script, clock)
        assert restarted.start(session=session) == 1
        assert calls.get(session=session, call_id=left).status == CallStatus.ended
        assert calls.get(session=session, call_id=kept).status == CallStatus.answered


async def test_the_server_loop_rings_and_stops_when_told(ctx: Ctx, script: Script, clock: Clock) -> None:
    sim = simulator(ctx, script, clock)
    clock.advance(60)
    stop = asyncio.Event()
    running = asyncio.create_task(simulate_forever(sim, stop, every_s=0.01))
    for _ in range(500):
        if sim.on_line():
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(running, 5)
    assert len(sim.on_line()) == 1  # one call: the next is 20-60 s of the test's clock away


# ---- the on-demand button's route ----------------------------------------------------------------------------


def test_ringing_on_demand_is_refused_when_the_simulator_is_off(client: TestClient, auth: Headers) -> None:
    answer = client.post("/api/v1/demo/ring", headers=auth["supervisor"])
    assert answer.status_code == 409 and "TANGGAP_SIMULATE=true" in answer.json()["error"]
    assert client.get("/api/v1/region", headers=auth["supervisor"]).json()["simulator"] is False


def test_supervisors_and_admins_ring_a_call_on_demand(ctx: Ctx, auth: Headers) -> None:
    ctx.settings = ctx.settings.model_copy(update={"simulate": True})
    client = TestClient(create_app(ctx=ctx))  # no lifespan: no background ringing, only the route's
    region = client.get("/api/v1/region", headers=auth["call_taker"]).json()
    assert region["simulator"] is True and region["sms_replies"] is True  # a simulated texter takes replies
    for role in ("call_taker", "dispatcher", "responder"):
        assert client.post("/api/v1/demo/ring", headers=auth[role]).status_code == 403
    answer = client.post("/api/v1/demo/ring", json={"kind": "emergency"}, headers=auth["supervisor"])
    assert answer.status_code == 201, answer.text
    assert (answer.json()["provider"], answer.json()["status"]) == (PROVIDER, "offered")
    assert client.post("/api/v1/demo/ring", json={"kind": "fire"}, headers=auth["admin"]).status_code == 422
    key = {"Idempotency-Key": "ring-once-112", **auth["admin"]}
    first, again = (client.post("/api/v1/demo/ring", headers=key) for _ in range(2))
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]


def test_a_reply_to_a_simulated_texter_never_goes_to_the_sms_provider(ctx: Ctx, auth: Headers) -> None:
    ctx.settings = ctx.settings.model_copy(update={"simulate": True})
    client = TestClient(create_app(ctx=ctx))
    sent: list[str] = []
    client.app.state.sms_send = lambda to, body, callback: sent.append(to) or "SM-1"  # type: ignore[attr-defined]
    sim: Simulator = client.app.state.simulator  # type: ignore[attr-defined]
    with ctx.sessions() as session:
        call = simulator(ctx, sim.script, Clock(), only=("emergency", True)).ring(session=session)
    taker = auth["call_taker"]
    assert client.post(f"/api/v1/calls/{call.id}/answer", headers=taker).status_code == 200
    reply = client.post(f"/api/v1/calls/{call.id}/messages", json={"text": "Damkar menuju lokasi."}, headers=taker)
    assert reply.status_code == 201 and reply.json()["status"] == "sent" and sent == []
    said = client.get(f"/api/v1/calls/{call.id}", headers=taker).json()
    assert [m["direction"] for m in said["messages"]] == ["in", "out"] and said["transcript"] == []
