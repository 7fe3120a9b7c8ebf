"""Speak the Asterisk voice prompts into `<lang>/tanggap/<name>.wav` with espeak-ng and sox, offline.

Why: a PBX without our prompts plays silence to a 112 caller. The generated files are shipped in
config/asterisk/sounds/ so a PBX needs no espeak-ng; this script regenerates them after a text in
prompts.toml changes. The same texts, voices and tool versions give the same bytes (sox runs repeatable,
without dither).

    .venv/bin/python scripts/make_prompts.py [--out DIR] [--prompts FILE]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import wave
from dataclasses import dataclass
from pathlib import Path

SOUNDS = Path(__file__).resolve().parent.parent / "config" / "asterisk" / "sounds"
PROMPTS_TOML = SOUNDS / "prompts.toml"
LANGUAGES = ("id", "en")  # Asterisk picks sounds/<channel language>/, so each prompt exists in both
FOLDER = "tanggap"  # played as sound:tanggap/<name>
RATE = 8000  # Asterisk's .wav format: 8 kHz mono 16-bit signed PCM
DEBIAN_PACKAGES = "espeak-ng sox"
NAME = re.compile(r"[a-z0-9][a-z0-9-]*")

# After espeak-ng: cut the synthesiser's own silence at both ends (silence, reverse, silence, reverse), resample
# to the telephone rate, peak at -3 dBFS, then 0.2 s of lead-in so the first syllable is not lost while the
# media path settles. -R (repeatable) and -D (no dither) make the output depend only on the input.
SOX_EFFECTS = f"silence 1 0.02 0.1% reverse silence 1 0.02 0.1% reverse rate -h {RATE} gain -n -3 pad 0.2 0".split()


class PromptError(Exception):
    """A problem the user can fix: a missing tool or voice, or a mistake in prompts.toml."""


@dataclass(frozen=True)
class Prompts:
    voices: dict[str, str]  # language folder -> espeak-ng voice
    speed: int  # words per minute
    texts: dict[str, dict[str, str]]  # prompt name -> language folder -> text


def load(path: Path = PROMPTS_TOML) -> Prompts:
    """Read and check prompts.toml: every prompt has a text in every language, names are safe file names."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PromptError(f"cannot read {path}: {exc}") from exc
    voice = data.get("voice", {})
    voices = {lang: str(voice.get(lang, lang)) for lang in LANGUAGES}
    speed = voice.get("speed", 165)
    if not isinstance(speed, int) or not 80 <= speed <= 450:
        raise PromptError(f"{path}: voice.speed must be words per minute between 80 and 450, not {speed!r}")
    texts: dict[str, dict[str, str]] = {}
    for name, prompt in data.get("prompts", {}).items():
        if not NAME.fullmatch(name):
            raise PromptError(f"{path}: prompt name {name!r} must be lower-case letters, digits and '-'")
        missing = [lang for lang in LANGUAGES if not str(prompt.get(lang, "")).strip()]
        if missing:
            raise PromptError(f"{path}: prompt {name!r} has no text for {', '.join(missing)}")
        texts[name] = {lang: " ".join(str(prompt[lang]).split()) for lang in LANGUAGES}
    if not texts:
        raise PromptError(f"{path}: no [prompts.<name>] tables")
    return Prompts(voices=voices, speed=speed, texts=texts)


def require_tools() -> None:
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        raise PromptError(
            f"{' and '.join(missing)} not found. On Debian or Ubuntu: sudo apt-get install -y {DEBIAN_PACKAGES}"
        )


def run(command: list[str], *, text: str | None = None) -> None:
    result = subprocess.run(command, input=text, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise PromptError(f"{command[0]} failed ({result.returncode}): {detail}")


def speak(text: str, *, voice: str, speed: int, out: Path, work: Path) -> None:
    """One prompt: espeak-ng at its native rate into `work`, then sox into `out`."""
    raw, cooked = work / "espeak.wav", work / "sox.wav"
    try:
        run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), "--stdin"], text=text)
    except PromptError as exc:
        raise PromptError(f"{exc} (is the voice installed? espeak-ng --voices={voice})") from exc
    run(["sox", "-R", "-D", "-V1", str(raw), "-c", "1", "-b", "16", "-e", "signed-integer", str(cooked), *SOX_EFFECTS])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(cooked.read_bytes())  # only a finished file replaces the old one


def seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def generate(prompts: Prompts, out: Path) -> list[Path]:
    written = []
    with tempfile.TemporaryDirectory(prefix="tanggap-prompts-") as work:
        for name, texts in prompts.texts.items():
            for lang, text in texts.items():
                path = out / lang / FOLDER / f"{name}.wav"
                speak(text, voice=prompts.voices[lang], speed=prompts.speed, out=path, work=Path(work))
                written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=SOUNDS, help=f"sounds folder (default {SOUNDS})")
    parser.add_argument("--prompts", type=Path, default=PROMPTS_TOML, help="the texts (default: prompts.toml)")
    args = parser.parse_args(argv)
    try:
        require_tools()
        written = generate(load(args.prompts), args.out)
    except PromptError as exc:
        print(f"make_prompts: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"{seconds(path):5.2f} s  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
