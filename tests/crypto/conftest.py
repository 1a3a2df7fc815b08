"""Fixtures for the crypto tests: the public test vectors kept in ``tests/vectors``.

``tests/vectors/README.md`` names each vector's origin and licence; the files are kept
byte for byte as published.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# tests/crypto/conftest.py -> parents[1] is tests/, where the public vectors are kept.
VECTORS = Path(__file__).resolve().parents[1] / "vectors"


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """The public vectors folder (tests/vectors); fails (not skips) when it is missing."""
    assert VECTORS.is_dir(), f"public test vectors not found at {VECTORS}"
    return VECTORS


def _jcs_names() -> list[str]:
    return sorted(path.name for path in (VECTORS / "jcs" / "input").glob("*.json"))


def _dsse_cases() -> list[list[str]]:
    path = VECTORS / "dsse" / "vectors.json"
    if not path.is_file():
        return []
    cases: list[list[str]] = json.loads(path.read_text(encoding="utf-8"))
    return cases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize by vector so that a failure names the vector file or case.

    An absent vectors folder yields one "<missing>" case that fails, instead of an empty
    parameter set that pytest would merely skip.
    """
    if "jcs_vector_name" in metafunc.fixturenames:
        names = _jcs_names() or ["<missing>"]
        metafunc.parametrize("jcs_vector_name", names, ids=names)
    if "dsse_case" in metafunc.fixturenames:
        cases = _dsse_cases()
        ids = [case[0] for case in cases] or ["<missing>"]
        metafunc.parametrize("dsse_case", cases or [None], ids=ids)
