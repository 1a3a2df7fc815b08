"""The GS1 AI table read from the vendored GS1 Barcode Syntax Dictionary, and the pairing
rules of GS1 General Specifications §4.14 (``ex=`` invalid pairs, ``req=`` mandatory
associations) against the GS1 Barcode Syntax Engine's own test lines for them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from registry.errors import InvalidInput
from registry.gs1_syntax import (
    AI_TABLE,
    SYNTAX_DICTIONARY,
    check_ai_exclusions,
    check_ai_pairings,
    check_ai_requisites,
)

ENGINE_TESTS = Path(__file__).parents[1] / "vectors" / "gs1-syntax-engine" / "ai-pairing-tests.c"
_ENGINE_LINE = re.compile(r'test_validateAIs\((true|false),\s*(validateAI\w+),\s*"([^"]*)"\)')
_ELEMENT = re.compile(r"\((\d{2,4})\)")


def _engine_cases() -> list[tuple[bool, str, list[str]]]:
    cases = []
    for line in ENGINE_TESTS.read_text(encoding="utf-8").splitlines():
        match = _ENGINE_LINE.search(line)
        if match:
            expected, routine, data = match.groups()
            cases.append((expected == "true", routine, _ELEMENT.findall(data)))
    return cases


ENGINE_CASES = _engine_cases()
ROUTINES = {"validateAImutex": check_ai_exclusions, "validateAIrequisites": check_ai_requisites}


def test_the_engine_s_test_lines_are_all_read():
    assert len(ENGINE_CASES) == 51
    assert {routine for _, routine, _ in ENGINE_CASES} == set(ROUTINES)


@pytest.mark.parametrize(
    ("valid", "routine", "ais"),
    ENGINE_CASES,
    ids=["".join(f"({a})" for a in c[2]) for c in ENGINE_CASES],
)
def test_pairing_rules_agree_with_the_gs1_syntax_engine(valid: bool, routine: str, ais: list[str]):
    check = ROUTINES[routine]
    if valid:
        check(ais)
    else:
        with pytest.raises(InvalidInput):
            check(ais)


def test_the_table_is_the_dictionary_s():
    text = SYNTAX_DICTIONARY.read_text(encoding="utf-8")
    assert text.startswith("# GS1 Barcode Syntax Dictionary")
    assert (
        (SYNTAX_DICTIONARY.parent / "LICENSE.gs1-syntax-dictionary")
        .read_text()
        .strip()
        .startswith("Apache License")
    )
    assert len(AI_TABLE) == 541
    gtin = AI_TABLE["01"]
    assert gtin.title == "GTIN" and gtin.excludes == ("255", "37") and gtin.data_attribute
    assert gtin.qualifier_paths == (("22", "10", "21"), ("235",))
    assert AI_TABLE["250"].requires == ((("01", "21"), ("03", "21"), ("8006", "21")),)
    assert AI_TABLE["3103"].requires == ((("01",), ("02",)),) and AI_TABLE["3103"].excludes == (
        "310n",
    )
    assert not AI_TABLE["21"].data_attribute and not AI_TABLE["21"].primary_key


def test_every_pattern_of_a_rule_names_a_known_ai():
    """A pattern no AI matches would be a misread rule (or a rule never met)."""
    for spec in AI_TABLE.values():
        patterns = [p for alts in spec.requires for group in alts for p in group]
        for pattern in [*patterns, *spec.excludes]:
            regex = re.compile(pattern.replace("n", "[0-9]") + "$")
            assert any(regex.match(ai) for ai in AI_TABLE), f"({spec.ai}): {pattern}"


@pytest.mark.parametrize(
    ("ais", "fault"),
    [
        (["00", "3103"], "(3103) requires (01) GTIN or (02)"),
        (["01", "37"], "(01) GTIN may not appear together with (37)"),
        (["01", "02"], "(02) may not appear together with (01) GTIN"),
        (["01", "3103", "3102"], "(3103) may not appear together with (3102)"),
        (
            ["414", "10"],
            "(10) lot code requires (01) GTIN or (02) or (03) or (8006) ITIP or (8026)",
        ),
        (["01", "10", "250"], "(250) requires (01) GTIN with (21) serial number or"),
        (["415"], "(415) requires (8020)"),
        (["00", "37"], "(37) requires (00) SSCC with (02) or (00) SSCC with (8026)"),
        (["255", "01"], "(255) may not appear together with (01) GTIN"),
        (["01", "255"], "(01) GTIN may not appear together with (255)"),
    ],
)
def test_a_bad_combination_names_the_ais(ais: list[str], fault: str):
    with pytest.raises(InvalidInput) as raised:
        check_ai_pairings(ais)
    assert fault in raised.value.detail
    assert raised.value.extra["ai"] in ais


@pytest.mark.parametrize(
    "ais",
    [
        ["01", "10", "3103"],
        ["01", "22", "10", "21", "17", "11", "13"],
        ["01", "10", "21", "250"],
        ["00", "02", "37", "3303"],
        ["00", "8026", "37"],
        ["415", "8020", "3902"],
        ["8006", "10", "21"],
        ["8010", "8011"],
        ["414", "254"],
        ["01", "3103", "3922"],
    ],
)
def test_good_combinations_pass(ais: list[str]):
    check_ai_pairings(ais)
