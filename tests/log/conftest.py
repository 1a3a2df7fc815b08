"""Fixtures for tests/log: the public test vectors kept in ``tests/vectors``.

``tests/vectors/README.md`` names each vector's origin and licence.
``pytest_generate_tests`` turns every Merkle vector file into its own test case whose id is
the file's path, so a failure names the vector.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def _vector_files(kind: str) -> list[Path]:
    return sorted((VECTORS / "merkle" / kind).rglob("*.json"))


@pytest.fixture(scope="session")
def log_vectors() -> Path:
    """Root of the public test vectors (tests/vectors); fails (not skips) when missing."""
    if not VECTORS.is_dir():
        pytest.fail(f"public test vectors not found at {VECTORS}")
    return VECTORS


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for argname, kind in (
        ("merkle_inclusion_vector", "inclusion"),
        ("merkle_consistency_vector", "consistency"),
    ):
        if argname not in metafunc.fixturenames:
            continue
        files = _vector_files(kind)
        # An empty parameter set would silently skip; a missing suite must fail instead.
        params: list[Any] = [json.loads(f.read_text()) for f in files] or [None]
        ids = [str(f.relative_to(VECTORS / "merkle")) for f in files] or ["missing-vectors"]
        metafunc.parametrize(argname, params, ids=ids)
