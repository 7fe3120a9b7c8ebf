"""The sample Asterisk configuration (`config/asterisk/`) agrees with itself and with the code.

No Asterisk runs here to load it, so these read the files the way Asterisk would look things up: every context
an endpoint or a Goto names exists and has the extension, every queue the dialplan or the triage names is in
queues.conf, the Stasis app and the sounds are the bridge's defaults, and the dialplan reads each variable the
FastAGI triage sets.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config.settings import Settings
from dispatch.calls.intake import DEFAULT_TRIAGE, QUEUE, REVIEW_QUEUE
from telephony.ari.settings import AriOptions

CONF = Path(__file__).resolve().parents[2] / "config" / "asterisk"


def sections(name: str) -> dict[str, list[str]]:
    """Section name -> its lines without comments (a repeated section, as pjsip.conf has, is joined)."""
    out: dict[str, list[str]] = {}
    current = ""
    for raw in (CONF / name).read_text().splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if match := re.fullmatch(r"\[([^\]]+)\](\([^)]*\))?", line):
            current = match.group(1)
            out.setdefault(current, [])
        else:
            out.setdefault(current, []).append(line)
    return out


Dialplan = dict[str, dict[str, list[str]]]  # context -> extension -> its steps (with labels)


def dialplan() -> Dialplan:
    plan: Dialplan = {}
    for context, lines in sections("extensions.conf").items():
        steps: dict[str, list[str]] = {}
        exten = ""
        for line in lines:
            if match := re.match(r"exten\s*=>\s*([^,]+),(\w+(?:\([\w-]+\))?),(.*)", line):
                exten = match.group(1)
                steps.setdefault(exten, []).append(f"{match.group(2)},{match.group(3)}")
            elif match := re.match(r"same\s*=>\s*(n(?:\([\w-]+\))?),(.*)", line):
                steps[exten].append(f"{match.group(1)},{match.group(2)}")
        plan[context] = steps
    return plan


def matches(pattern: str, number: str) -> bool:
    """Asterisk's extension patterns: `_` then X, Z, N, [..] and a trailing `.` or `!`."""
    if not pattern.startswith("_"):
        return pattern == number
    table = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}
    regex = "".join(table.get(c, re.escape(c)) for c in pattern[1:])
    return re.fullmatch(regex, number) is not None


def has(plan: Dialplan, context: str, exten: str) -> bool:
    return any(matches(pattern, exten) for pattern in plan.get(context, {}))


def test_every_endpoint_context_is_in_the_dialplan() -> None:
    plan = dialplan()
    contexts = {
        line.split("=", 1)[1].strip()
        for lines in sections("pjsip.conf").values()
        for line in lines
        if line.startswith("context")
    }
    assert contexts == {"from-trunk", "takers"}
    assert all(context in plan for context in contexts), contexts - set(plan)


def test_every_goto_reaches_an_extension_and_label_that_exist() -> None:
    plan = dialplan()
    gotos = 0
    for context, extens in plan.items():
        for exten, steps in extens.items():
            for step in steps:
                for target in re.findall(r"Goto(?:If)?\((?:[^?]*\?)?([^)]*)\)", step):
                    parts = [p.strip() for p in target.split(",")]
                    if len(parts) == 1:  # a label of this extension
                        to_context, to_exten, priority = context, exten, parts[0]
                    else:
                        to_context, to_exten, priority = parts
                    assert has(plan, to_context, to_exten), f"{context},{exten}: Goto({target})"
                    if not priority.isdigit():
                        labels = {m for s in plan[to_context][to_exten] for m in re.findall(r"^n\(([\w-]+)\)", s)}
                        assert priority in labels, f"{context},{exten}: no label {priority}"
                    gotos += 1
    assert gotos >= 5


def test_112_from_the_trunk_and_from_a_desk_enters_the_stasis_app_with_its_args() -> None:
    plan = dialplan()
    assert has(plan, "from-trunk", "112") and has(plan, "from-trunk", "0751112")
    assert has(plan, "takers", "112") and has(plan, "takers", "081234567890") and has(plan, "takers", "taker2")
    steps = " ".join(plan["emergency"]["112"])
    app = Settings.model_fields["ari_app"].default
    assert f"Stasis({app},incoming,${{CALLERID(num)}},${{TANGGAP_LANG}})" in steps
    assert 'GotoIf($["${STASISSTATUS}" = "FAILED"]?fallback)' in steps and "Dial(${TAKER_PHONES}" in steps


def test_the_queues_the_dialplan_and_the_triage_name_exist() -> None:
    queues = set(sections("queues.conf")) - {"general", "queue-template"}
    assert {QUEUE, REVIEW_QUEUE} <= queues and DEFAULT_TRIAGE.queue in queues
    named = re.findall(r"Queue\(([^,)]+)", " ".join(" ".join(s) for s in dialplan()["emergency-queue"].values()))
    assert all(q in queues or q == "${TANGGAP_QUEUE}" for q in named) and "${TANGGAP_QUEUE}" in named
    members = [line for line in sections("queues.conf")["queue-template"] if line.startswith("member")]
    phones = set(re.findall(r"PJSIP/(\w+)", dialplan_globals()["TAKER_PHONES"]))
    assert {m.split("PJSIP/")[1] for m in members} == phones


def dialplan_globals() -> dict[str, str]:
    return dict(line.split("=", 1) for line in sections("extensions.conf")["globals"])


@pytest.mark.parametrize("variable", sorted(DEFAULT_TRIAGE.variables()))
def test_the_dialplan_reads_what_the_triage_sets(variable: str) -> None:
    text = (CONF / "extensions.conf").read_text()
    assert f"${{{variable}}}" in text
    assert f"Set({variable}=" in text  # a default before AGI(): the call goes on if the AGI server is down


def test_the_sounds_are_the_bridges_defaults() -> None:
    text = (CONF / "extensions.conf").read_text()
    for name in ("greeting", "warning"):
        sound = AriOptions.model_fields[name].default
        assert sound.removeprefix("sound:") in text, sound


def test_the_ari_user_and_http_server() -> None:
    ari, http = sections("ari.conf"), sections("http.conf")
    assert "type = user" in ari["tanggap"] and "enabled = yes" in ari["general"]
    assert "enabled = yes" in http["general"] and "bindport = 8088" in http["general"]
