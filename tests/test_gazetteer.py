"""The gazetteer (aggregator.gazetteer): country mentions, the traps, places, M49 regions.

Each trap the module docstring names has cases here; a new one is a new tuple in a table.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pycountry
import pytest

from aggregator import gazetteer, gazetteer_data
from aggregator.gazetteer import (
    CountryMention,
    country_name,
    find_countries,
    lookup_place,
    place_name,
    region_name,
    region_of,
)
from aggregator.gazetteer_data import M49, REGION_NAMES


def isos(text: str) -> list[str]:
    return [m.iso2 for m in find_countries(text)]


# (text, the countries found in order)
MENTIONS: list[tuple[str, list[str]]] = [
    # Niger and Nigeria, the river, the delta
    ("Niger and Nigeria signed an agreement", ["ne", "ng"]),
    ("Nigerien and Nigerian nationals", ["ne", "ng"]),
    ("boats on the Niger River", []),
    ("along the River Niger", []),
    ("fishermen on the Niger near Mopti", ["ml"]),
    ("oil theft in the Niger Delta", ["ng"]),
    ("Niger State borders Niger", ["ng", "ne"]),
    ("Mali, the Niger and Nigeria", ["ml", "ne", "ng"]),
    ("the Republic of the Niger", ["ne"]),
    ("the Government of the Niger and the Niger authorities", ["ne", "ne"]),
    ("crossing the Niger by pirogue", []),
    ("des migrants au Niger et au Nigéria", ["ne", "ng"]),
    ("migrantes en el Níger", ["ne"]),
    ("le delta du Niger", ["ng"]),
    # Guinea and its neighbours
    ("Guinea, Guinea-Bissau and Equatorial Guinea", ["gn", "gw", "gq"]),
    ("Guinea Bissau and Papua New Guinea", ["gw", "pg"]),
    ("piracy in the Gulf of Guinea", []),
    ("crossing the Gulf of Aden to Yemen", ["ye"]),
    ("the Strait of Gibraltar", []),
    ("the island of New Guinea", []),
    ("Guinean and Bissau-Guinean fishermen", ["gn", "gw"]),
    ("la piraterie dans le golfe de Guinée", []),
    ("a Guinea pig study", []),
    # Sudan and South Sudan
    ("from Sudan into South Sudan", ["sd", "ss"]),
    ("South Sudanese returnees and Sudanese refugees", ["ss", "sd"]),
    ("le Soudan du Sud et le Soudan", ["ss", "sd"]),
    ("Sudán del Sur", ["ss"]),
    # the two Congos
    ("the Democratic Republic of the Congo", ["cd"]),
    ("DRC and DR Congo", ["cd", "cd"]),
    ("the Republic of the Congo and Congo-Brazzaville", ["cg", "cg"]),
    ("Congo (Brazzaville) and Congo (Kinshasa)", ["cg", "cd"]),
    ("Brazzaville and Kinshasa face each other", ["cg", "cd"]),
    ("fighting in the DRC has pushed people out of Congo", ["cd", "cd"]),
    ("Brazzaville is the capital of Congo", ["cg", "cg"]),
    ("the UN short name: Congo", ["cg"]),
    ("armed groups in eastern Congo", ["cd"]),
    ("Brazzaville (Congo) - the Republic of the Congo and the DRC", ["cg", "cg", "cd"]),
    ("Congolese traders", []),
    ("Congolese traders from the DRC", ["cd", "cd"]),
    ("crossing the Congo River", []),
    # Dominica
    ("Dominica and the Dominican Republic", ["dm", "do"]),
    ("Dominican nationals", ["do"]),
    # Georgia, Jordan, Chad as people
    ("said Georgia Mendes, a UNODC programme officer in Dakar", ["sn"]),
    ("“Many were robbed,” said Jordan Okello, an IOM field officer.", []),
    ("Chad Miller said the route was closed", []),
    ("Ms. Jordan told reporters", []),
    ("the coach said Michael Jordan was right", []),
    ("Jordan's King Abdullah", ["jo"]),
    ("Amman, Jordan", ["jo", "jo"]),
    ("refugees in Jordan", ["jo"]),
    ("Jordan hosts 600,000 Syrian refugees", ["jo", "sy"]),
    ("Georgia and Armenia", ["ge", "am"]),
    ("Tbilisi, Georgia", ["ge", "ge"]),
    ("Chad Hosts Regional Workshop", ["td"]),
    ("Prosecutors From Jordan And Iraq Meet", ["jo", "iq"]),
    ("the Georgia Police and the Chad Government", ["ge", "td"]),
    ("a hanging chad", []),
    # Georgia, the US state
    ("a flight to Atlanta, Georgia", ["us", "us"]),
    ("Georgia, the US state", ["us", "us"]),
    ("a truck driver from Savannah, Georgia", ["us"]),
    ("Georgia man sentenced for smuggling migrants", ["us"]),
    ("Georgian man sentenced in Tbilisi", ["ge", "ge"]),
    ("Lake Chad", []),
    # US states are in the US; food, look-alike words
    ("a checkpoint near Deming, New Mexico", ["us"]),
    ("New Mexico and Mexico", ["us", "mx"]),
    ("New Jersey and Jersey", ["us", "je"]),
    ("a federal jury in Laredo, Texas", ["us", "us"]),
    ("Indiana Jones and Virginia Woolf", []),
    ("a football jersey", []),
    ("turkey for dinner in Turkey", ["tr"]),
    ("Türkiye and Turkish authorities", ["tr", "tr"]),
    ("Mali and Somalia", ["ml", "so"]),
    ("Romania and Oman", ["ro", "om"]),
    ("India and the Indian Ocean", ["in"]),
    ("Indian nationals", ["in"]),
    ("Latin America and Latin Americans", []),
    ("Inter-American Commission", []),
    # codes: exact case only
    ("let us go", []),
    ("the US and the USA and the U.S.", ["us", "us", "us"]),
    ("US$ 500 or 500 US dollars", []),
    ("the UAE and the UK", ["ae", "gb"]),
    ("the United States of America", ["us"]),
    ("the Republic of Korea and the DPRK", ["kr", "kp"]),
    # accents, possessives, articles
    ("Perú, Peru, México", ["pe", "pe", "mx"]),
    ("Côte d'Ivoire, Cote d’Ivoire and Ivory Coast", ["ci", "ci", "ci"]),
    ("Egypt's coastguard", ["eg"]),
    ("the Netherlands and the Gambia", ["nl", "gm"]),
    # languages are not countries
    ("available in English, French and Spanish.", []),
    ("translated into Arabic and French", []),
    ("French and Spanish police", ["fr", "es"]),
    ("boats reaching Spanish and Italian ports", ["es", "it"]),
    ("the Spanish-language edition", []),
    # French and Spanish names and adjectives
    ("l'Égypte, le Maroc et les États-Unis", ["eg", "ma", "us"]),
    ("Marruecos, Estados Unidos y Reino Unido", ["ma", "us", "gb"]),
    ("des migrants maliens et nigériens", ["ml", "ne"]),
    ("migrantes venezolanos y hondureñas", ["ve", "hn"]),
    ("Réunion régionale sur le trafic", []),
    ("La Réunion", ["re"]),
    # towns, islands and regions inside a country; a dateline names a place too
    ("departures from Agadez and Kufra", ["ne", "ly"]),
    ("boats reaching the Azores and the Canary Islands", ["pt", "es"]),
    ("arrivals in Lampedusa, Ceuta and Melilla", ["it", "es", "es"]),
    ("Tripoli, Lebanon", ["lb", "lb"]),
    ("Vienna, 20 November 2026 - a report published in Geneva", ["at", "ch"]),
    ("Male migrants and Sofia, who met Santiago", []),
    ("trafficking hub of Benin City", ["ng"]),
]


@pytest.mark.parametrize(("text", "expected"), MENTIONS, ids=[t for t, _ in MENTIONS])
def test_find_countries(text: str, expected: list[str]) -> None:
    assert isos(text) == expected


def test_mentions_carry_text_offsets_and_kind() -> None:
    text = "In Egypt’s capital, Sudanese refugees met UNHCR in Cairo."
    mentions = find_countries(text)
    assert mentions == [
        CountryMention("eg", "Egypt", 3, 8, "name"),
        CountryMention("sd", "Sudanese", 20, 28, "demonym"),
        CountryMention("eg", "Cairo", 51, 56, "place"),
    ]
    assert all(text[m.start:m.end] == m.matched for m in mentions)


def test_offsets_survive_accents_and_dotted_capitals() -> None:
    text = "İstanbul → Côte d’Ivoire, México"
    assert [text[m.start:m.end] for m in find_countries(text)] == ["İstanbul", "Côte d’Ivoire", "México"]


def test_empty_text() -> None:
    assert find_countries("") == []


def test_tables_repeat_no_country_key() -> None:
    """A dict literal with a repeated key keeps only the last one, silently."""
    tree = ast.parse(Path(gazetteer_data.__file__).read_text(encoding="utf-8"))
    repeated = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
            repeated += sorted({k for k in keys if keys.count(k) > 1})
    assert repeated == []


def test_no_form_names_two_countries() -> None:
    """A surface form listed under two codes would make the first table win silently."""
    seen: dict[str, str | None] = {}
    clashes = []
    for iso, _kind, surface, _rules in gazetteer._sources():
        key = gazetteer._key(surface)
        if key in seen and seen[key] != iso:
            clashes.append((surface, seen[key], iso))
        seen.setdefault(key, iso)
    assert clashes == []


# -- places --------------------------------------------------------------------------------

PLACES: list[tuple[str, str | None, str | None]] = [
    ("Cairo, Egypt", "eg", "Cairo, Egypt"),
    ("Egypt", "eg", "Egypt"),
    ("Bangkok (Thailand)", "th", "Bangkok, Thailand"),
    ("Cairo", "eg", "Cairo, Egypt"),
    ("Male, Maldives", "mv", "Malé, Maldives"),
    ("Vienna", "at", "Vienna, Austria"),
    ("Vienna International Centre, Vienna, Austria", "at", "Vienna, Austria"),
    ("Panama City", "pa", "Panama City, Panama"),
    ("Ciudad de Panamá", "pa", "Panama City, Panama"),
    ("Niamey (Niger)", "ne", "Niamey, Niger"),
    ("Tripoli", "ly", "Tripoli, Libya"),
    ("Tripoli, Lebanon", "lb", "Tripoli, Lebanon"),
    ("Amman, Jordan", "jo", "Amman, Jordan"),
    ("Tbilisi, Georgia", "ge", "Tbilisi, Georgia"),
    ("Atlanta, Georgia", "us", "Atlanta, United States"),
    ("Kinshasa", "cd", "Kinshasa, Democratic Republic of the Congo"),
    ("Brazzaville (Congo)", "cg", "Brazzaville, Republic of the Congo"),
    ("The Hague", "nl", "The Hague, Netherlands"),
    ("Putumayo, Colombia", "co", "Putumayo, Colombia"),
    ("Abidjan, Côte d'Ivoire", "ci", "Abidjan, Côte d'Ivoire"),
    ("Somewhere Else", None, None),
    ("", None, None),
]


@pytest.mark.parametrize(("text", "iso", "name"), PLACES, ids=[t or "empty" for t, _, _ in PLACES])
def test_lookup_place_and_place_name(text: str, iso: str | None, name: str | None) -> None:
    assert lookup_place(text) == iso
    assert place_name(text) == name


# -- names and regions ---------------------------------------------------------------------


@pytest.mark.parametrize(("iso", "name"), [
    ("eg", "Egypt"), ("cd", "Democratic Republic of the Congo"), ("ci", "Côte d'Ivoire"),
    ("gb", "United Kingdom"), ("bo", "Bolivia"), ("us", "United States"), ("ir", "Iran"),
    ("EG", "Egypt"), ("tz", "Tanzania"), ("sy", "Syria"),
])
def test_country_name(iso: str, name: str) -> None:
    assert country_name(iso) == name


def test_country_name_of_an_unknown_code() -> None:
    with pytest.raises(KeyError):
        country_name("zz")


@pytest.mark.parametrize(("iso", "slug"), [
    ("eg", "northern-africa"), ("ly", "northern-africa"), ("tn", "northern-africa"),
    ("dz", "northern-africa"), ("ma", "northern-africa"), ("sd", "northern-africa"),
    ("ss", "eastern-africa"), ("mr", "western-africa"), ("ng", "western-africa"),
    ("ne", "western-africa"), ("td", "middle-africa"), ("cd", "middle-africa"),
    ("za", "southern-africa"), ("mx", "central-america"), ("ht", "caribbean"),
    ("co", "south-america"), ("us", "northern-america"), ("cy", "western-asia"),
    ("tr", "western-asia"), ("ge", "western-asia"), ("am", "western-asia"),
    ("az", "western-asia"), ("af", "southern-asia"), ("ir", "southern-asia"),
    ("ru", "eastern-europe"), ("kz", "central-asia"), ("th", "south-eastern-asia"),
    ("cn", "eastern-asia"), ("gb", "northern-europe"), ("it", "southern-europe"),
    ("at", "western-europe"), ("au", "australia-and-new-zealand"), ("pg", "melanesia"),
    ("fm", "micronesia"), ("ws", "polynesia"), ("EG", "northern-africa"),
])
def test_region_of(iso: str, slug: str) -> None:
    assert region_of(iso) == slug


def test_every_iso_country_has_a_region() -> None:
    missing = [c.alpha_2 for c in pycountry.countries
               if region_of(c.alpha_2) is None and c.alpha_2 != "AQ"]
    assert missing == []
    assert region_of("aq") is None and region_of("zz") is None
    assert set(M49) <= {c.alpha_2.lower() for c in pycountry.countries}


def test_region_names() -> None:
    assert region_name("northern-africa") == "Northern Africa"
    assert region_name("south-eastern-asia") == "South-eastern Asia"
    assert set(M49.values()) == set(REGION_NAMES)
    with pytest.raises(KeyError):
        region_name("atlantis")
