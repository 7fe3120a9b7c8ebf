from pathlib import Path

import pytest

from geo.errors import BadQuery
from geo.gazetteer import Gazetteer, Place


@pytest.fixture(scope="module")
def padang(padang_dir: Path) -> Gazetteer:
    return Gazetteer.load(padang_dir)


@pytest.fixture(scope="module")
def banggai(banggai_dir: Path) -> Gazetteer:
    return Gazetteer.load(banggai_dir)


def names(places: list[Place]) -> list[str]:
    return [p.name for p in places]


def test_exact_name(padang: Gazetteer) -> None:
    first = padang.search("Belakang Pondok")[0]
    assert (first.name, first.kind, first.code) == ("Belakang Pondok", "kelurahan", "13.71.01.1001")
    assert first.kecamatan == "Padang Selatan"
    assert first.lat == pytest.approx(-0.95565, abs=1e-4)
    assert first.lon == pytest.approx(100.36246, abs=1e-4)
    assert 200 < first.accuracy_m < 500  # a 0.33 km² kelurahan


@pytest.mark.parametrize("query", ["Kel. Belakang Pondok", "kelurahan belakang pondok", "BELAKANG  PONDOK "])
def test_prefix_words_case_and_spacing(padang: Gazetteer, query: str) -> None:
    assert names(padang.search(query))[0] == "Belakang Pondok"


@pytest.mark.parametrize("query", ["Lubeg", "lubeg", "Kec. Lubuk Begalung", "Lubuk Begalng", "lubukbegalung"])
def test_lubuk_begalung_the_ways_people_say_it(padang: Gazetteer, query: str) -> None:
    first = padang.search(query)[0]
    assert (first.name, first.kind) == ("Lubuk Begalung", "kecamatan")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Kototangah", "Koto Tangah"),
        ("Koto Tengah", "Koto Tangah"),
        ("Lukil", "Lubuk Kilangan"),  # syllable short form
        ("padsel", "Padang Selatan"),  # same rule, no alias needed
        ("Aia Pacah", "Aie Pacah"),  # Minang spellings of "air"
        ("Air Pacah", "Aie Pacah"),
        ("Gates", "Gates Nan XX"),  # nobody says the nagari suffix
        ("kurangi", "Kuranji"),
        ("Nangalo", "Nanggalo"),
        ("Belakang Pondk", "Belakang Pondok"),
    ],
)
def test_short_forms_spellings_and_typos(padang: Gazetteer, query: str, expected: str) -> None:
    assert names(padang.search(query))[0] == expected


@pytest.mark.parametrize("query", ["Pulau Sikuai", "P. Sikuai", "sikuai"])
def test_islands(padang: Gazetteer, query: str) -> None:
    first = padang.search(query)[0]
    assert (first.name, first.kind) == ("Pulau Sikuai", "pulau")
    assert first.accuracy_m == pytest.approx(361, abs=2)  # a circle of 0.41 km²


def test_prefix_matches_rank_first_for_type_ahead(padang: Gazetteer) -> None:
    found = padang.search("bung", limit=10)
    starting = [p.name for p in found if p.name.lower().startswith("bung")]
    assert names(found)[: len(starting)] == starting
    assert found[0].name == "Bungus Teluk Kabung"  # the kecamatan before its kelurahan


def test_kecamatan_before_kelurahan_of_the_same_name(padang: Gazetteer) -> None:
    assert [(p.name, p.kind) for p in padang.search("Kuranji", limit=2)] == [
        ("Kuranji", "kecamatan"),
        ("Kuranji", "kelurahan"),
    ]


def test_word_inside_a_name(padang: Gazetteer) -> None:
    assert set(names(padang.search("pondok"))) >= {"Belakang Pondok", "Kampung Pondok"}


def test_kota(padang: Gazetteer) -> None:
    first = padang.search("Kota Padang")[0]
    assert (first.name, first.kind, first.code) == ("Kota Padang", "kota", "13.71")


def test_banggai(banggai: Gazetteer) -> None:
    assert [(p.name, p.kind) for p in banggai.search("luwuk", limit=2)] == [
        ("Luwuk", "kecamatan"),
        ("Luwuk", "kelurahan"),
    ]
    assert names(banggai.search("Lutim"))[0] == "Luwuk Timur"
    assert all(p.kind in {"desa", "kelurahan", "kecamatan", "kabupaten", "pulau"} for p in banggai.places)


def test_nothing_found_is_an_empty_list(banggai: Gazetteer) -> None:
    assert banggai.search("xyzzy qwerty") == []
    assert banggai.search("Lubeg") == []  # a Padang short form means nothing in Banggai


def test_limit(padang: Gazetteer) -> None:
    assert len(padang.search("padang", limit=3)) == 3


@pytest.mark.parametrize("query", ["", "   ", "\t\n"])
def test_empty_query(padang: Gazetteer, query: str) -> None:
    with pytest.raises(BadQuery, match="empty"):
        padang.search(query)


def test_long_query_says_how_long(padang: Gazetteer) -> None:
    with pytest.raises(BadQuery, match="500 characters long; at most 100"):
        padang.search("a" * 500)


def test_punctuation_only(padang: Gazetteer) -> None:
    with pytest.raises(BadQuery, match="no letters or digits"):
        padang.search("?!.")


def test_bad_query_is_a_value_error() -> None:
    assert issubclass(BadQuery, ValueError)


def test_landmarks_join_from_csv(tmp_path: Path, padang_dir: Path) -> None:
    region = tmp_path / "geo"
    region.mkdir()
    for name in ("gazetteer.csv", "islands.csv"):
        (region / name).write_bytes((padang_dir / name).read_bytes())
    (region / "landmarks.csv").write_text(
        "name,lat,lon,accuracy_m,kind\nRSUP Dr. M. Djamil,-0.9436,100.3672,150,rumah_sakit\n",
        encoding="utf-8",
    )
    found = Gazetteer.load(region).search("djamil")
    assert found[0] == Place("RSUP Dr. M. Djamil", "rumah_sakit", None, None, -0.9436, 100.3672, 150.0)


def test_aliases_can_be_given(padang_dir: Path) -> None:
    gazetteer = Gazetteer.load(padang_dir, aliases={"Simpang Uji": "Kampung Jawa"})
    assert names(gazetteer.search("simpang uji"))[0] == "Kampung Jawa"
    assert Gazetteer.load(padang_dir, aliases={}).search("Unand") == []
