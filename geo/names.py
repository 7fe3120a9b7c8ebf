"""How people say Indonesian place names, reduced to keys that can be compared.

A caller says "Kel. Belakang Pondok", "kototangah", "Lubeg" or "Aia Pacah"; the gazetteer holds
"Belakang Pondok", "Koto Tangah", "Lubuk Begalung" and "Aie Pacah". normalize() folds case, accents
and punctuation, the Minangkabau/Indonesian spelling of common words, the old Dutch-era spellings
("Djamil", "Soekarno") and the abbreviations call-takers type ("jl.", "gg", "sdn", "rsud");
strip_prefix() drops the administrative or street word in front; abbreviations() lists the syllable
short forms a name is known by.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

# Words that say what kind of place follows, in the forms people type them (after normalize()).
PREFIXES = (
    ("kelurahan",),
    ("kel",),
    ("desa",),
    ("ds",),
    ("kecamatan",),
    ("kec",),
    ("pulau",),
    ("p",),
    ("kota",),
    ("kabupaten",),
    ("kab",),
    ("nagari",),
    ("jalan",),
    ("gang",),
    ("lorong",),
)
# Minangkabau and Indonesian spellings of the same word, folded to one form on both sides of a
# comparison, so "Aia Pacah", "Air Pacah" and "Aie Pacah" meet.
SPELLINGS = {
    "aie": "air",
    "aia": "air",
    "pasa": "pasar",
    "pasie": "pasir",
    "tangah": "tengah",
    "lua": "luar",
    "jao": "jawa",  # Kampung Jao is the register's Kampung Jawa
    "kampuang": "kampung",
    "simpangan": "simpang",
    "mesjid": "masjid",
}
# What call-takers type for common place words, written out; both sides of a comparison are expanded,
# so "RSUD" meets "Rumah Sakit Umum Daerah" and "jl sudirman" meets "Jalan Sudirman".
EXPANSIONS = {
    "jl": "jalan",
    "jln": "jalan",
    "gg": "gang",
    "lr": "lorong",
    "simp": "simpang",
    "msj": "masjid",
    "sdn": "sd negeri",
    "smpn": "smp negeri",
    "sman": "sma negeri",
    "smkn": "smk negeri",
    "rs": "rumah sakit",
    "rsu": "rumah sakit umum",
    "rsud": "rumah sakit umum daerah",
    "rsup": "rumah sakit umum pusat",
    "psr": "pasar",
    "ktr": "kantor",
    "kntr": "kantor",
    "univ": "universitas",
    "komp": "kompleks",
    "perum": "perumahan",
}
# "SD N 12", "SMP N 3": a lone "n" after a school level is "negeri".
_SCHOOLS = frozenset({"sd", "smp", "sma", "smk", "mi", "mts", "ma"})
# Dutch-era spellings still on signs and in names (Djamil, Soekarno): folded inside words.
_OLD_SPELLING = (("dj", "j"), ("oe", "u"), ("tj", "c"))
# Padang's kelurahan carry the old nagari suffix "Nan XX" ("of the twenty"), which nobody says.
_NAGARI_SUFFIX = re.compile(r" nan (?:[ivxlc]+|\d+)$")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
# Prefix lengths tried per word for syllable abbreviations: Lubeg = LUbuk BEGalung.
_ABBREVIATION_PARTS = (2, 3, 4)
_MAX_ABBREVIATED_WORDS = 4


def normalize(text: str, *, fold_spelling: bool = True) -> str:
    """Lowercase ASCII words separated by single spaces; apostrophes join ("Katuwo'an" -> katuwoan)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    folded = folded.replace("'", "").replace("`", "")
    words = _NOT_ALNUM.sub(" ", folded).split()
    if not fold_spelling:
        return " ".join(words)
    out: list[str] = []
    for word in words:
        if word == "n" and out and out[-1] in _SCHOOLS:
            out.append("negeri")
            continue
        word = EXPANSIONS.get(word, word)
        for old, new in _OLD_SPELLING:
            word = word.replace(old, new)
        out.append(SPELLINGS.get(word, word))
    return " ".join(out)


def strip_prefix(key: str) -> str:
    """Drop leading kind words ("kel", "kecamatan", "pulau", ...), keeping at least one word."""
    words = key.split()
    changed = True
    while changed and len(words) > 1:
        changed = False
        for prefix in PREFIXES:
            if tuple(words[: len(prefix)]) == prefix and len(words) > len(prefix):
                words = words[len(prefix) :]
                changed = True
                break
    return " ".join(words)


def variants(name: str) -> set[str]:
    """Every key a name can be found under: as written and spelling-folded, without its kind word,
    without the nagari suffix, and each of those with the spaces removed ("Koto Tangah" is also
    typed "Kototangah")."""
    keys = set()
    for full in (normalize(name), normalize(name, fold_spelling=False)):
        keys |= {full, strip_prefix(full)}
    keys |= {_NAGARI_SUFFIX.sub("", k) for k in keys}
    keys |= {k.replace(" ", "") for k in keys}
    return {k for k in keys if k}


def abbreviations(name: str) -> set[str]:
    """Syllable short forms: the first 2-4 letters of each word run together ("lubeg", "lukil",
    "padsel"). Only for names of two to four words, where such forms are how people speak."""
    words = _NAGARI_SUFFIX.sub("", strip_prefix(normalize(name))).split()
    if not 2 <= len(words) <= _MAX_ABBREVIATED_WORDS:
        return set()
    options = [sorted({w[:n] for n in _ABBREVIATION_PARTS if n < len(w)} or {w}) for w in words]
    return {"".join(parts) for parts in itertools.product(*options)}
