"""The call simulator's script (config/simulator/scenarios.toml): the mix of calls, who calls and what they say,
and drawing the next call from it. Pure: no database, no clock; the randomness comes from the caller's `Random`.
"""

from __future__ import annotations

import random
import tomllib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from config.settings import REGIONS_DIR
from dispatch.phone import normalise
from geo.gazetteer import Gazetteer, Place

SCENARIOS = REGIONS_DIR.parent / "simulator" / "scenarios.toml"
KINDS = ("emergency", "prank", "silent", "information", "complaint")
ABUSIVE = frozenset({"prank", "silent"})  # the kinds the pranksters make, and which a caller may make without a SIM
PLACE_KINDS = frozenset({"kelurahan", "desa"})
T = TypeVar("T")


class ScriptError(ValueError):
    """The scenarios file cannot be used; says which entry and why."""


@dataclass(frozen=True)
class Scenario:
    kind: str
    weight: float
    words: str  # Bahasa Indonesia, with {place} and {kecamatan}
    type_code: str | None = None  # the incident type a call-taker should choose
    text: bool = False  # a text call (SMS to 112): the words are the SMS


@dataclass(frozen=True)
class Callers:
    pranksters: tuple[str, ...]
    ordinary: tuple[str, ...]
    aml_handsets: frozenset[str]
    prankster_share: float
    withheld_share: float


@dataclass(frozen=True)
class Timing:
    ring_every_s: tuple[float, float]
    gives_up_after_s: tuple[float, float]
    silent_hangs_up_after_s: tuple[float, float]
    aml_after_s: tuple[float, float]
    text_gives_up_after_s: float


@dataclass(frozen=True)
class Script:
    mix: dict[str, float]
    scenarios: tuple[Scenario, ...]
    callers: Callers
    timing: Timing


@dataclass(frozen=True)
class Draw:
    """One call to ring: what is said, by whom, about where."""

    scenario: Scenario
    caller: str | None  # None: withheld (a phone without a SIM card)
    words: str
    place: Place
    aml: bool  # the handset sends an AML fix


def load(path: Path = SCENARIOS, *, type_codes: Collection[str] | None = None) -> Script:
    """Read and check a scenarios file; `type_codes`: the region's catalogue, which every `type` must name."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        script = Script(
            mix={str(k): float(v) for k, v in raw["mix"].items()},
            scenarios=tuple(_scenario(s) for s in raw["scenario"]),
            callers=_callers(raw["callers"]),
            timing=_timing(raw["timing"]),
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ScriptError):
            raise
        raise ScriptError(f"{path.name}: {type(exc).__name__}: {exc}") from None
    _check(script, type_codes)
    return script


def _scenario(entry: dict[str, Any]) -> Scenario:
    return Scenario(
        kind=str(entry["kind"]),
        weight=float(entry["weight"]),
        words=str(entry["words"]).strip(),
        type_code=entry.get("type"),
        text=bool(entry.get("text", False)),
    )


def _callers(entry: dict[str, Any]) -> Callers:
    return Callers(
        pranksters=tuple(entry["pranksters"]),
        ordinary=tuple(entry["ordinary"]),
        aml_handsets=frozenset(entry.get("aml_handsets", ())),
        prankster_share=float(entry["prankster_share"]),
        withheld_share=float(entry["withheld_share"]),
    )


def _span(value: Any) -> tuple[float, float]:
    low, high = (float(v) for v in value)
    if not 0 <= low <= high:
        raise ScriptError(f"timing: {value!r} is not a range [low, high] of seconds")
    return low, high


def _timing(entry: dict[str, Any]) -> Timing:
    return Timing(
        ring_every_s=_span(entry["ring_every_s"]),
        gives_up_after_s=_span(entry["gives_up_after_s"]),
        silent_hangs_up_after_s=_span(entry["silent_hangs_up_after_s"]),
        aml_after_s=_span(entry["aml_after_s"]),
        text_gives_up_after_s=float(entry["text_gives_up_after_s"]),
    )


def _check(script: Script, type_codes: Collection[str] | None) -> None:
    if set(script.mix) - set(KINDS) or any(w < 0 for w in script.mix.values()) or sum(script.mix.values()) <= 0:
        raise ScriptError(f"[mix]: kinds are {', '.join(KINDS)}, with weights >= 0 and not all 0")
    for i, s in enumerate(script.scenarios, 1):
        where = f"scenario {i} ({s.words[:30]!r})"
        if s.kind not in KINDS or s.weight <= 0 or not s.words:
            raise ScriptError(f"{where}: needs a kind of {', '.join(KINDS)}, a weight > 0 and words")
        try:
            s.words.format(place="", kecamatan="")
        except (KeyError, IndexError, ValueError):
            raise ScriptError(f"{where}: the words may hold only {{place}} and {{kecamatan}}") from None
        if s.type_code is not None and type_codes is not None and s.type_code not in type_codes:
            raise ScriptError(f"{where}: type {s.type_code!r} is not in the region's catalogue")
    empty = [k for k, w in script.mix.items() if w > 0 and not any(s.kind == k for s in script.scenarios)]
    if empty:
        raise ScriptError(f"[mix]: no scenario of kind {', '.join(empty)}")
    callers = script.callers
    numbers = (*callers.pranksters, *callers.ordinary)
    odd = [n for n in numbers if normalise(n) != n]
    if odd or not callers.ordinary or not callers.aml_handsets <= set(numbers):
        raise ScriptError("[callers]: E.164 numbers, some ordinary ones, and AML handsets among them")
    if not (0 <= callers.prankster_share <= 1 and 0 <= callers.withheld_share <= 1):
        raise ScriptError("[callers]: the shares lie between 0 and 1")


def places_of(gazetteer: Gazetteer) -> tuple[Place, ...]:
    """Where callers say they are: the region's kelurahan and desa."""
    return tuple(p for p in gazetteer.places if p.kind in PLACE_KINDS and p.kecamatan)


def weighted(rng: random.Random, items: Sequence[T], weights: Sequence[float]) -> T:
    return rng.choices(items, weights=weights)[0]


def draw(
    script: Script, places: Sequence[Place], rng: random.Random, *, kind: str | None = None, busy: Collection[str] = ()
) -> Draw:
    """The next call: a kind by the mix (or the one asked for), a scenario of that kind by weight, a place, and a
    caller. `busy`: numbers on the line already, not drawn again while others are free (an AML fix would go to
    the newest of their calls, and a text would join their text call)."""
    if kind is None:
        kinds = [k for k, w in script.mix.items() if w > 0]
        kind = weighted(rng, kinds, [script.mix[k] for k in kinds])
    scenarios = [s for s in script.scenarios if s.kind == kind]
    if not scenarios:
        raise ScriptError(f"no scenario of kind {kind!r}")
    scenario = weighted(rng, scenarios, [s.weight for s in scenarios])
    place = rng.choice(places)
    caller = _caller(script.callers, rng, kind, busy, text=scenario.text)
    words = scenario.words.format(place=place.name, kecamatan=place.kecamatan or place.name)
    aml = caller in script.callers.aml_handsets and not scenario.text
    return Draw(scenario, caller, words, place, aml)


def _caller(callers: Callers, rng: random.Random, kind: str, busy: Collection[str], *, text: bool) -> str | None:
    if kind in ABUSIVE:
        if rng.random() < callers.withheld_share and not text:  # an SMS always comes from a number
            return None
        free = [n for n in callers.pranksters if n not in busy]
        if free and rng.random() < callers.prankster_share:
            return rng.choice(free)
    free = [n for n in callers.ordinary if n not in busy]
    return rng.choice(free or callers.ordinary)
