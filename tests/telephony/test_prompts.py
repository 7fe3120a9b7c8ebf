"""The shipped voice prompts (`config/asterisk/sounds/<lang>/tanggap/*.wav`) are files Asterisk can play.

Asterisk's `wav` format reads only 8 kHz mono 16-bit PCM and a wrong file fails when it is played, with the
caller hearing nothing, so each header is read chunk by chunk here rather than trusted from the file name.
"""

from __future__ import annotations

import importlib.util
import math
import re
import shutil
import struct
import subprocess
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "make_prompts.py"
SOUNDS = ROOT / "config" / "asterisk" / "sounds"
# What extensions.conf and the ARI bridge play; a prompt dropped from prompts.toml must fail here too.
PLAYED = {"salam-112", "mohon-tunggu", "peringatan-iseng", "panggilan-balik"} | {
    f"bencana-{name}" for name in ("pengumuman", "pilihan", "info", "tempat-padang", "tempat-banggai", "petugas")
}
ENDING_WORDS = (
    *("diputus", "terputus", "memutus", "ditutup", "menutup", "diakhiri", "mengakhiri", "dihentikan"),
    *("disconnect", "disconnected", "drop", "dropped", "end", "ended", "hang up", "cut off", "terminated"),
)
MIN_RMS = 300  # of 32767: about -40 dBFS; the espeak-ng prompts are near 2,500, a silent file is 0


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_prompts", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


make_prompts = load_script()
PROMPTS = make_prompts.load()
NAMES = sorted(PLAYED | set(PROMPTS.texts))
CASES = [(lang, name) for lang in make_prompts.LANGUAGES for name in NAMES]


@dataclass(frozen=True)
class Wav:
    format_tag: int
    channels: int
    rate: int
    bits: int
    samples: array[int]

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    @property
    def rms(self) -> float:
        return math.sqrt(sum(s * s for s in self.samples) / len(self.samples)) if self.samples else 0.0


def read_wav(path: Path) -> Wav:
    """Parse a RIFF/WAVE file by hand: its fmt chunk and its 16-bit samples; fails on a truncated file."""
    data = path.read_bytes()
    assert data[:4] == b"RIFF", f"{path.name}: not a RIFF file"
    assert data[8:12] == b"WAVE", f"{path.name}: not a WAVE file"
    chunks: dict[bytes, bytes] = {}
    pos = 12
    while pos + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, pos)
        body = data[pos + 8 : pos + 8 + size]
        assert len(body) == size, f"{path.name}: chunk {chunk_id!r} is cut short"
        chunks.setdefault(chunk_id, body)
        pos += 8 + size + (size & 1)
    assert b"fmt " in chunks, f"{path.name}: no fmt chunk"
    assert b"data" in chunks, f"{path.name}: no data chunk"
    format_tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", chunks[b"fmt "])
    samples = array("h")
    samples.frombytes(chunks[b"data"][: len(chunks[b"data"]) // 2 * 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return Wav(format_tag=format_tag, channels=channels, rate=rate, bits=bits, samples=samples)


def assert_playable(path: Path) -> None:
    assert path.is_file(), f"missing prompt {path}"
    wav = read_wav(path)
    assert (wav.format_tag, wav.channels, wav.rate, wav.bits) == (1, 1, 8000, 16), f"{path}: not 8 kHz mono PCM"
    assert 1.0 <= wav.seconds <= 12.0, f"{path}: {wav.seconds:.2f} s"
    assert wav.rms > MIN_RMS, f"{path}: silent (RMS {wav.rms:.0f})"


def test_the_script_speaks_every_prompt_the_pbx_plays() -> None:
    assert set(PROMPTS.texts) == PLAYED


@pytest.mark.parametrize(("lang", "name"), CASES)
def test_each_shipped_prompt_is_a_wav_asterisk_plays(lang: str, name: str) -> None:
    assert_playable(SOUNDS / lang / "tanggap" / f"{name}.wav")


@pytest.mark.parametrize("lang", make_prompts.LANGUAGES)
def test_the_warning_never_says_the_call_will_be_ended(lang: str) -> None:
    # A flagged caller is still put through to a person: a warning that threatens to hang up makes them hang up.
    text = PROMPTS.texts["peringatan-iseng"][lang].lower()
    for word in ENDING_WORDS:
        assert not re.search(rf"\b{word}\b", text), word


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="espeak-ng and sox are not installed (apt-get install espeak-ng sox)",
)
def test_the_script_regenerates_every_prompt(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    made = {(p.parent.parent.name, p.stem) for p in tmp_path.glob("*/tanggap/*.wav")}
    assert made == {(lang, name) for lang in make_prompts.LANGUAGES for name in PROMPTS.texts}
    for lang, name in sorted(made):
        assert_playable(tmp_path / lang / "tanggap" / f"{name}.wav")
