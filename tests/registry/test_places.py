"""GB/T 2260 divisions (registry.places): real codes named, made-up ones refused."""

from __future__ import annotations

import pytest

from registry import places


@pytest.mark.parametrize(
    ("code", "zh", "en"),
    [
        ("150430", "内蒙古自治区赤峰市敖汉旗", "Aohan Banner, Chifeng, Inner Mongolia"),
        ("150402", "内蒙古自治区赤峰市红山区", "Hongshan District, Chifeng, Inner Mongolia"),
        ("371722", "山东省菏泽市单县", "Shan County, Heze, Shandong"),
        ("370124", "山东省济南市平阴县", "Pingyin County, Jinan, Shandong"),
        ("150400", "内蒙古自治区赤峰市", "Chifeng, Inner Mongolia"),
        ("150000", "内蒙古自治区", "Inner Mongolia"),
        ("15", "内蒙古自治区", "Inner Mongolia"),
        ("1504", "内蒙古自治区赤峰市", "Chifeng, Inner Mongolia"),
        ("110101", "北京市东城区", "东城区, Beijing"),  # a municipality has no prefecture
        ("419001", "河南省济源市", "济源市, Henan"),  # a county-level city under the province
        ("441900", "广东省东莞市", "东莞市, Guangdong"),  # a prefecture without counties
        ("710000", "台湾省", "Taiwan"),
        ("810000", "香港特别行政区", "Hong Kong"),
    ],
)
def test_a_real_code_has_its_full_name(code: str, zh: str, en: str) -> None:
    assert places.region_name(code) == zh
    assert places.region_name(code, "zh") == zh
    assert places.region_name(code, "en") == en


@pytest.mark.parametrize("code", ["899999", "150499", "159900", "000000", "1504300", "abc", ""])
def test_a_made_up_code_names_nothing(code: str) -> None:
    assert places.region_name(code) is None
    assert not places.is_known_region(code)


def test_known_regions_are_six_digit_codes_of_divisions() -> None:
    assert places.is_known_region("150430")
    assert places.is_known_region("150400")  # the prefecture itself
    assert not places.is_known_region("1504")  # a prefix, not a code
    assert not places.is_known_region("899999")


def test_jurisdictions_are_prefixes_of_two_four_or_six_digits() -> None:
    assert places.is_known_prefix("15")
    assert places.is_known_prefix("1504")
    assert places.is_known_prefix("150430")
    assert not places.is_known_prefix("150400")  # a prefecture is written 1504
    assert not places.is_known_prefix("89")
    assert not places.is_known_prefix("1599")
    assert not places.is_known_prefix("150")


def test_the_dataset_covers_every_county() -> None:
    counties = [d for d in places._divisions().values() if len(d.prefix) == 6]
    provinces = [d for d in places._divisions().values() if len(d.prefix) == 2]
    assert len(provinces) == 34
    assert len(counties) > 2800
    # Counties set up in December 2024 (Hotan prefecture, Xinjiang) are there.
    assert places.region_name("653229") == "新疆维吾尔自治区和田地区和安县"


def test_a_label_keeps_the_code() -> None:
    assert places.region_label("150402") == "内蒙古自治区赤峰市红山区（150402）"
    assert places.region_label("150402", "en") == (
        "Hongshan District, Chifeng, Inner Mongolia (150402)"
    )
    assert places.region_label("899999") == "899999"
