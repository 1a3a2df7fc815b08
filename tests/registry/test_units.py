"""Units of quantity in words (registry.units), in both languages."""

from __future__ import annotations

import pytest

from registry import units


@pytest.mark.parametrize(
    ("unit", "zh", "en"),
    [
        ("bag", "袋", "bag"),
        ("box", "盒", "box"),
        ("kg", "千克", "kg"),
        ("case", "箱", "case"),
        ("g", "克", "g"),
        ("t", "吨", "t"),
        ("piece", "个", "piece"),
        ("bottle", "瓶", "bottle"),
        ("dozen", "打", "dozen"),
        ("head", "头", "head"),
        ("L", "升", "L"),
    ],
)
def test_every_unit_has_a_word_in_both_languages(unit: str, zh: str, en: str) -> None:
    assert units.unit_label(unit) == zh
    assert units.unit_label(unit, "zh") == zh
    assert units.unit_label(unit, "en") == en


def test_an_unknown_unit_is_shown_as_written() -> None:
    assert units.unit_label("sack") == "sack"
    assert units.format_quantity("3", "sack", "en") == "3 sack"
    assert units.format_quantity("3", "sack", "zh") == "3 sack"


@pytest.mark.parametrize(
    ("quantity", "unit", "zh", "en"),
    [
        ("2800", "bag", "2800 袋", "2,800 bags"),
        ("500", "box", "500 盒", "500 boxes"),
        ("1", "box", "1 盒", "1 box"),
        ("1.0", "bag", "1.0 袋", "1.0 bag"),
        ("12.5", "kg", "12.5 千克", "12.5 kg"),
        ("1234567.125", "kg", "1234567.125 千克", "1,234,567.125 kg"),
        ("20", "dozen", "20 打", "20 dozen"),
    ],
)
def test_a_quantity_reads_naturally(quantity: str, unit: str, zh: str, en: str) -> None:
    assert units.format_quantity(quantity, unit) == zh
    assert units.format_quantity(quantity, unit, "en") == en
