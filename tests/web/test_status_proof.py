"""The phone proves the status is current (docs/records.md, "The status index";
docs/phone-verification.md): the status-index proofs checked by the page's own code in a
real Chromium, with WebCrypto's SHA-256 and with the pure-JavaScript fallback's.

The status-index vectors (tests/vectors/status-index/) and proofs cut from random trees by
``registry.log.status_index`` run through ``indexProofRoot`` in verify.js: the page must
reach the same root as the Python reference, and refuse what it refuses.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.factory import create_app
from registry.db import make_engine, upgrade
from registry.demo import load_demo
from registry.errors import VerificationError
from registry.log import status_index as index
from tests.support import serve_in_thread
from tests.web import test_consumer_page as consumer
from tests.web.test_consumer_page import Live, _settings, needs_browser

browser = consumer.browser  # the consumer-page tests' Chromium and phone fixtures
phone = consumer.phone

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "vectors" / "status-index" / "vectors.json"

# Old webviews: WebCrypto without Ed25519, so verify.js takes the vendored fallback, whose
# SHA-256 then hashes the index proofs too.
NO_WEBCRYPTO_ED25519 = """
(() => {
  const importKey = crypto.subtle.importKey.bind(crypto.subtle);
  crypto.subtle.importKey = function (format, data, algorithm, ...rest) {
    const name = typeof algorithm === "string" ? algorithm : algorithm && algorithm.name;
    if (String(name).toLowerCase() === "ed25519") {
      return Promise.reject(new DOMException("Unrecognized name.", "NotSupportedError"));
    }
    return importKey(format, data, algorithm, ...rest);
  };
})();
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A registry with the demo, for the pages whose verify.js the vectors run through."""
    directory = tmp_path_factory.mktemp("status-proof")
    url = f"sqlite:///{directory / 'registry.db'}"
    upgrade(url)
    engine = make_engine(url)
    app = create_app(_settings(directory / "data", url), engine)
    try:
        with serve_in_thread(app) as base:
            summary = load_demo(app.state.session_factory, app.state.ctx)
            yield Live(base, app, summary)
    finally:
        engine.dispose()


def _page_with(site: Live, phone: Any, engine: str) -> Any:
    page = phone("en-US")
    if engine == "fallback":
        page.add_init_script(NO_WEBCRYPTO_ED25519)
    page.goto(f"{site.url}/e/{site.code('valid')}")
    page.wait_for_function("window.GuaranteeRegistryVerify !== undefined")
    return page


def _roots_in_page(page: Any, cases: list[dict[str, Any]]) -> list[str | None]:
    """The root verify.js reaches for each case (base64), or None where it refuses."""
    return list(
        page.evaluate(
            """async (cases) => {
              const api = window.GuaranteeRegistryVerify, out = [];
              for (const c of cases) out.push(await api.indexProofRoot(c.key, c.value, c.proof));
              return out;
            }""",
            cases,
        )
    )


def _python_root(case: dict[str, Any]) -> str | None:
    """What registry.log.status_index makes of the case: the root, or None (refused)."""
    try:
        proof = index.proof_from_json(case["proof"])
        return base64.b64encode(index.root_from_proof(case["key"], case["value"], proof)).decode()
    except VerificationError:
        return None


@needs_browser
@pytest.mark.parametrize("engine", ["webcrypto", "fallback"])
def test_the_status_index_vectors_in_chromium(site: Live, phone, engine: str):
    vectors = json.loads(VECTORS.read_text())
    cases = vectors["cases"]
    page = _page_with(site, phone, engine)
    roots = _roots_in_page(page, cases)
    assert page.evaluate("window.GuaranteeRegistryVerify.engine()") == engine
    for case, got in zip(cases, roots, strict=True):
        if case["valid"]:
            assert got == vectors["root"], f"{case['name']}: the page reaches {got}"
        else:
            assert got != vectors["root"], f"{case['name']}: the page accepts it"
    assert sum(1 for c in cases if not c["valid"]) >= 5, "the vectors lost their bad cases"


def _non_collapsed(proof: dict[str, Any]) -> dict[str, Any]:
    """The same path one level deeper beside an empty subtree: the same root by hashing,
    but a form the collapsed tree never has (so a proof cannot be stretched)."""
    return {"siblings": [base64.b64encode(index.EMPTY).decode(), *proof["siblings"]], "other": None}


def _flipped(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[7] ^= 0x20
    return base64.b64encode(bytes(raw)).decode()


def _random_cases(seed: int) -> list[dict[str, Any]]:
    """Proofs for present and absent keys of a random tree, and altered copies of them."""
    rng = random.Random(seed)
    values: dict[str, dict[str, Any]] = {}
    for n in range(300):
        if rng.random() < 0.3:
            revocation = rng.choice([None, rng.randrange(10**6)])
            values[index.endorsement_key(f"GR{n:07d}")] = {
                "endorsement": rng.randrange(10**6),
                "revocation": revocation,
            }
        else:
            recall = rng.choice([None, None, rng.randrange(10**6)])
            values[index.batch_key(f"{rng.getrandbits(128):032x}:L{n}")] = {
                "head": rng.randrange(10**6),
                "recall": recall,
            }
    entries = {index.key_hash(k): index.value_hash(v) for k, v in values.items()}
    cases: list[dict[str, Any]] = []
    keys = sorted(values)
    for key in rng.sample(keys, 40):
        proof = index.proof_to_json(index.prove(entries, index.key_hash(key)))
        cases.append({"key": key, "value": values[key], "proof": proof})
        other = dict(values[key])
        field = "revocation" if "revocation" in other else "recall"
        other[field] = None if other[field] is not None else 7  # hide or invent it
        cases.append({"key": key, "value": other, "proof": proof})
        if proof["siblings"]:
            bad = {"siblings": list(proof["siblings"]), "other": None}
            at = rng.randrange(len(bad["siblings"]))
            bad["siblings"][at] = _flipped(bad["siblings"][at])
            cases.append({"key": key, "value": values[key], "proof": bad})
            cases.append({"key": key, "value": values[key], "proof": _non_collapsed(proof)})
            cases.append({"key": key, "value": None, "proof": proof})  # claimed absent
    for n in range(30):
        absent = index.batch_key(f"{rng.getrandbits(128):032x}:MISSING{n}")
        proof = index.proof_to_json(index.prove(entries, index.key_hash(absent)))
        cases.append({"key": absent, "value": None, "proof": proof})
        cases.append({"key": absent, "value": {"head": 1, "recall": None}, "proof": proof})
        if proof["other"] is not None:
            # The other leaf moved off the path: its key hash no longer shares the prefix.
            moved = dict(proof["other"])
            raw = bytearray(base64.b64decode(moved["key_hash"]))
            raw[0] ^= 0x80
            moved["key_hash"] = base64.b64encode(bytes(raw)).decode()
            cases.append({"key": absent, "value": None, "proof": {**proof, "other": moved}})
    root = base64.b64encode(index.root_of(entries)).decode()
    for case in cases:
        case["expected"] = _python_root(case)
        case["holds"] = case["expected"] == root
    return cases


@needs_browser
@pytest.mark.parametrize("engine", ["webcrypto", "fallback"])
def test_random_trees_the_page_agrees_with_the_reference(site: Live, phone, engine: str):
    cases = _random_cases(18)
    assert sum(c["holds"] for c in cases) >= 60 and sum(not c["holds"] for c in cases) >= 100
    assert any(c["expected"] is None for c in cases), "no case the reference refuses"
    page = _page_with(site, phone, engine)
    roots = _roots_in_page(page, cases)
    assert page.evaluate("window.GuaranteeRegistryVerify.engine()") == engine
    for case, got in zip(cases, roots, strict=True):
        assert got == case["expected"], (
            f"{case['key']} holding {case['value']}: the page reaches {got}, "
            f"registry.log.status_index {case['expected']}"
        )
