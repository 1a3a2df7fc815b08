"""How long the viewer's phone takes to verify an endorsement's chain, with WebCrypto's
Ed25519 and with the pinned pure-JavaScript fallback (web/static/vendor/noble.js).

``python -m bench.page_verify [--runs N] [--json FILE]`` loads the demo dataset into a fresh
SQLite registry, serves it on 127.0.0.1, and opens the consumer page of the demo endorsement
whose chain is closest to 20 records in headless Chromium (/usr/bin/chromium) ``N`` times
each way; the page reports its own verification time in ``<html data-verify-ms>`` (from the
verification document's arrival to the verdict: checkpoint, cosignatures, memory, every
signature and proof, the status index), and the status step's own share of it in
``data-verify-status-ms`` (the index head, every key's proof, the status derived). The
fallback runs are made with WebCrypto's Ed25519 removed, as in an
old WeChat or Douyin webview. Results: docs/performance.md.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from app.factory import create_app
from registry.db import make_engine, upgrade
from registry.demo import load_demo
from registry.settings import Settings

CHROMIUM = "/usr/bin/chromium"
WANTED_RECORDS = 20
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


def _serve(app: Any) -> tuple[str, uvicorn.Server, threading.Thread]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    host, port = sock.getsockname()
    return f"http://{host}:{port}", server, thread


def _sizes(app: Any, code: str) -> tuple[int, int]:
    """How many records the document's chain holds, and how many status-index proofs."""
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        document = client.get(f"/e/{code}/verify.json").json()
    return len(document["chain"]), len(document["status_index"]["proofs"])


def measure(runs: int) -> dict[str, Any]:
    """Verification times (ms) of one consumer page, both ways."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'registry.db'}"
        upgrade(url)
        engine = make_engine(url)
        settings = Settings(
            data_dir=Path(directory) / "data",
            database_url=url,
            base_url="http://127.0.0.1:8000",
            master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
        )
        app = create_app(settings, engine)
        base, server, thread = _serve(app)
        try:
            summary = load_demo(app.state.session_factory, app.state.ctx)
            sizes = {e["code"]: _sizes(app, e["code"]) for e in summary["endorsements"]}
            code = min(sizes, key=lambda c: abs(sizes[c][0] - WANTED_RECORDS))
            results: dict[str, Any] = {
                "code": code,
                "records": sizes[code][0],
                "status_proofs": sizes[code][1],
                "runs": runs,
            }
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--headless", "--no-sandbox"]
                )
                for way, script in (("webcrypto", None), ("fallback", NO_WEBCRYPTO_ED25519)):
                    times, status_times = [], []
                    for _ in range(runs):
                        context = browser.new_context()
                        if script:
                            context.add_init_script(script)
                        page = context.new_page()
                        page.goto(f"{base}/e/{code}")
                        page.locator("html[data-verify-state=verified]").wait_for(
                            state="attached", timeout=30_000
                        )
                        assert page.evaluate("document.documentElement.dataset.verifyEngine") == way
                        times.append(
                            float(page.evaluate("document.documentElement.dataset.verifyMs"))
                        )
                        status_times.append(
                            float(page.evaluate("document.documentElement.dataset.verifyStatusMs"))
                        )
                        context.close()
                    results[way] = {
                        "median_ms": statistics.median(times),
                        "min_ms": min(times),
                        "max_ms": max(times),
                        "status_median_ms": statistics.median(status_times),
                        "status_min_ms": min(status_times),
                        "status_max_ms": max(status_times),
                    }
                browser.close()
            return results
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = measure(args.runs)
    for way in ("webcrypto", "fallback"):
        r = results[way]
        print(
            f"{way:10} {results['records']} records, {results['status_proofs']} status proofs: "
            f"median {r['median_ms']:.0f} ms "
            f"(min {r['min_ms']:.0f}, max {r['max_ms']:.0f}, {args.runs} runs); "
            f"status step median {r['status_median_ms']:.1f} ms "
            f"(min {r['status_min_ms']:.1f}, max {r['status_max_ms']:.1f})"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
