import pytest

from registry.codes import ALPHABET, check_character, new_code, normalize_code
from registry.errors import InvalidInput
from registry.gs1 import digital_link_path, normalize_gtin, parse_digital_link, validate_lot


def test_new_codes_normalize_to_themselves():
    for _ in range(200):
        code = new_code()
        assert len(code) == 9
        assert normalize_code(code.lower()) == code


def test_every_single_character_typo_is_caught():
    code = new_code()
    for position in range(len(code)):
        for replacement in ALPHABET:
            if replacement == code[position]:
                continue
            typo = code[:position] + replacement + code[position + 1 :]
            with pytest.raises(InvalidInput, match="check character"):
                normalize_code(typo)


def test_adjacent_swaps_are_caught():
    code = new_code()
    for i in range(len(code) - 1):
        if code[i] == code[i + 1] or {code[i], code[i + 1]} == {"0", "Z"}:
            continue  # no change, or Luhn mod N's known blind spot
        swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
        with pytest.raises(InvalidInput):
            normalize_code(swapped)


def test_look_alikes_and_separators_are_forgiven():
    body = "0011ABCD"
    code = body + check_character(body)
    assert normalize_code("oOiL-abcd" + code[-1].lower()) == code


@pytest.mark.parametrize("bad", ["", "ABC", "ABCDEFGH!", "U" * 9, "A" * 12])
def test_malformed_codes_are_refused(bad):
    with pytest.raises(InvalidInput):
        normalize_code(bad)


@pytest.mark.parametrize(
    ("gtin", "gtin14"),
    [
        ("4006381333931", "04006381333931"),
        ("06901234567892", "06901234567892"),
        ("96385074", "00000096385074"),
    ],
)
def test_valid_gtins(gtin, gtin14):
    assert normalize_gtin(gtin) == gtin14


@pytest.mark.parametrize("bad", ["4006381333932", "400638133393", "12345", "abcdefghijklm", ""])
def test_invalid_gtins_name_the_problem(bad):
    with pytest.raises(InvalidInput, match="GTIN"):
        normalize_gtin(bad)


def test_digital_link_round_trip():
    path = digital_link_path("06901234567892", "GF2026/001")
    assert path == "/01/06901234567892/10/GF2026%2F001"
    assert parse_digital_link("06901234567892", "GF2026%2F001") == ("06901234567892", "GF2026/001")


@pytest.mark.parametrize("bad", ["", "x" * 21, "lot with space", "批次1"])
def test_lot_codes_follow_gs1_character_set_82(bad):
    with pytest.raises(InvalidInput):
        validate_lot(bad)
