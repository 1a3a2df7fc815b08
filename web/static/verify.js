/* Verification on the viewer's phone: trust nothing the server says that a
 * signature or a hash does not prove.
 *
 * Fetches the endorsement's verification document and checks, with WebCrypto only:
 *  1. the checkpoint: a C2SP signed note, Ed25519 by the log key (C2SP vkey, key hash
 *     checked), for the log key this page was served with;
 *  2. every chain entry: its leaf (RFC 8785 JSON) commits to SHA-256 of the payload, the
 *     payload type, the kind and the envelope's signatures; SHA-256(0x00 || leaf) is included
 *     in the checkpoint's tree (RFC 9162 §2.1.3.2); every DSSE signature is Ed25519 over
 *     PAE(payloadType, payload) by a key whose id is SHA-256 of it and whose own registration
 *     record is in the chain (and so verified too);
 *  3. the endorsement shown is the one signed (code, claims, stream, window, quantity), signed
 *     by the officials named; a revocation or recall shown is a logged record.
 * Each step of the page is marked; <html data-verify-state> goes pending -> verified | failed,
 * and a failure names the first record that failed. A browser without Ed25519 in WebCrypto,
 * or a failed download, leaves the state pending and says so (that is not evidence of
 * tampering). Nothing is loaded from anywhere but this page's origin. */
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");
  var T = (document.getElementById("verify-text") || {}).dataset;
  var box = document.getElementById("verify");
  if (!T || !box || !root.dataset.verifyUrl) return;
  var enc = new TextEncoder();
  var dec = new TextDecoder("utf-8", { fatal: true });
  var KEY_KINDS = { key_registration: 1, key_rotation: 1 };

  function Failure(why, index) { this.why = why; this.index = index; }

  function b64(s) {
    if (typeof s !== "string" || s.length % 4 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new Failure("payload");
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function hex(bytes) {
    var s = "";
    for (var i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    return s;
  }
  function concat() {
    var n = 0, i, parts = arguments;
    for (i = 0; i < parts.length; i++) n += parts[i].length;
    var out = new Uint8Array(n), at = 0;
    for (i = 0; i < parts.length; i++) { out.set(parts[i], at); at += parts[i].length; }
    return out;
  }
  function same(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  function canon(v) { /* JSON with sorted keys: compares two parsed documents */
    if (Array.isArray(v)) return "[" + v.map(canon).join(",") + "]";
    if (v && typeof v === "object") {
      return "{" + Object.keys(v).sort().map(function (k) { return JSON.stringify(k) + ":" + canon(v[k]); }).join(",") + "}";
    }
    return JSON.stringify(v);
  }
  async function sha256(bytes) { return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)); }

  var keys = new Map();
  async function ed25519(pub, sig, message) {
    if (pub.length !== 32 || sig.length !== 64) return false;
    var id = hex(pub), key = keys.get(id);
    if (!key) {
      try { key = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]); }
      catch (e) { return false; }
      keys.set(id, key);
    }
    return crypto.subtle.verify("Ed25519", key, sig, message);
  }

  /* RFC 8032 §7.1 test 1: proves this browser's Ed25519 works before blaming the data. */
  async function supported() {
    if (!window.crypto || !crypto.subtle || !window.TextEncoder) return false;
    try {
      var pub = Uint8Array.from(atob("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="), function (c) { return c.charCodeAt(0); });
      var sig = Uint8Array.from(atob("5VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc+bRr0lv18FlbviRlUUFDjnoQCw=="), function (c) { return c.charCodeAt(0); });
      var key = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
      return (await crypto.subtle.verify("Ed25519", key, sig, new Uint8Array(0))) === true;
    } catch (e) { return false; }
  }

  /* C2SP signed-note + tlog-checkpoint, Ed25519 (type 0x01). Returns {size, root}. */
  async function checkpoint(doc) {
    var vkey = doc.log && doc.log.vkey;
    if (typeof vkey !== "string" || vkey !== root.dataset.logVkey) throw new Failure("checkpoint", "log");
    var a = vkey.indexOf("+"), b = vkey.indexOf("+", a + 1);
    var name = vkey.slice(0, a), material = b64(vkey.slice(b + 1));
    if (a < 1 || b < 0 || material.length !== 33 || material[0] !== 1) throw new Failure("checkpoint", "log");
    var pub = material.subarray(1);
    var keyHash = (await sha256(concat(enc.encode(name), new Uint8Array([10, 1]), pub))).subarray(0, 4);
    if (hex(keyHash) !== vkey.slice(a + 1, b)) throw new Failure("checkpoint", "log");
    var note = doc.checkpoint.note, split = note.lastIndexOf("\n\n");
    if (split < 0 || note.slice(-1) !== "\n") throw new Failure("checkpoint", "checkpoint");
    var text = note.slice(0, split + 1), signed = false;
    var lines = note.slice(split + 2, -1).split("\n");
    for (var i = 0; i < lines.length && !signed; i++) {
      var prefix = "\u2014 " + name + " ";
      if (lines[i].indexOf(prefix) !== 0) continue;
      var raw = b64(lines[i].slice(prefix.length));
      signed = same(raw.subarray(0, 4), keyHash) && await ed25519(pub, raw.subarray(4), enc.encode(text));
    }
    if (!signed) throw new Failure("checkpoint", "checkpoint");
    var body = text.slice(0, -1).split("\n");
    if (body.length < 3 || body[0] !== doc.log.origin || name !== doc.log.origin ||
        !/^(0|[1-9][0-9]*)$/.test(body[1]) || Number(body[1]) !== doc.checkpoint.size ||
        body[2] !== doc.checkpoint.root) throw new Failure("checkpoint", "checkpoint");
    var rootHash = b64(body[2]);
    if (rootHash.length !== 32) throw new Failure("checkpoint", "checkpoint");
    return { size: Number(body[1]), root: rootHash };
  }

  /* RFC 9162 §2.1.3.2: the root an inclusion proof implies, or null if it is malformed. */
  async function proofRoot(leafHash, index, size, proof) {
    if (!(index >= 0 && index < size)) return null;
    var fn = index, sn = size - 1, r = leafHash;
    for (var i = 0; i < proof.length; i++) {
      var p = proof[i];
      if (sn === 0 || p.length !== 32) return null;
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(concat(new Uint8Array([1]), p, r));
        if (fn % 2 === 0) while (fn !== 0 && fn % 2 === 0) { fn /= 2; sn = Math.floor(sn / 2); }
      } else {
        r = await sha256(concat(new Uint8Array([1]), r, p));
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 ? r : null;
  }

  function payloadOf(entry) {
    if (!entry || entry.envelope.payload === null) return null;
    return JSON.parse(dec.decode(b64(entry.envelope.payload)));
  }

  /* One chain entry: null if it verifies, else why not. */
  async function entryProblem(entry, cp, keyTable, byIndex) {
    var env = entry.envelope, leafBytes = b64(entry.leaf), leaf = JSON.parse(dec.decode(leafBytes));
    var sigs = (env.signatures || []).map(function (s) { return { keyid: s.keyid, sig: s.sig }; });
    if (leaf.v !== 1 || leaf.kind !== entry.kind || leaf.payload_type !== env.payloadType) return "payload";
    var found = await proofRoot(await sha256(concat(new Uint8Array([0]), leafBytes)), entry.index, cp.size,
      (entry.inclusion_proof || []).map(b64));
    if (!found || !same(found, cp.root)) return "proof";
    if (env.payload === null) return null; /* erased personal data: the log still holds its hash */
    var payload = b64(env.payload);
    if (hex(await sha256(payload)) !== leaf.payload_sha256 || entry.digest !== leaf.payload_sha256) return "payload";
    var record = JSON.parse(dec.decode(payload));
    if (record.kind !== entry.kind || (entry.record && canon(entry.record) !== canon(record))) return "payload";
    if (!sigs.length) return "signature";
    var type = enc.encode(env.payloadType);
    var pae = concat(enc.encode("DSSEv1 " + type.length + " "), type, enc.encode(" " + payload.length + " "), payload);
    var seen = {};
    for (var i = 0; i < sigs.length; i++) {
      var s = sigs[i], key = keyTable[s.keyid];
      if (seen[s.keyid] || !key) return "key";
      seen[s.keyid] = 1;
      var pub = b64(key.public_key);
      var reg = byIndex.get(key.registered_index), registered = null;
      try { registered = KEY_KINDS[reg.kind] && payloadOf(reg); } catch (e) { registered = null; }
      if (hex(await sha256(pub)) !== s.keyid || !registered || !registered.key ||
          registered.key.id !== s.keyid || registered.key.public_key !== key.public_key ||
          key.registered_index > entry.index) return "key";
      if (!(await ed25519(pub, b64(s.sig), pae))) return "signature";
    }
    /* The leaf commits to the signatures too: none may be swapped after logging. */
    return canon(leaf.signatures) === canon(sigs) ? null : "payload";
  }

  /* The endorsement, revocation and recall the page shows are the signed, logged ones. */
  function endorsementProblem(doc, byIndex) {
    var e = doc.endorsement, entry = byIndex.get(e.index), signed = payloadOf(entry);
    if (!entry || entry.kind !== "endorsement" || !signed) return e.index;
    var keyids = entry.envelope.signatures.map(function (s) { return s.keyid; });
    var ok = signed.code === doc.code && doc.code === root.dataset.code &&
      canon(signed.claims) === canon(e.claims) && canon(signed.stream) === canon(e.stream) &&
      signed.valid_from === e.valid_from && signed.valid_until === e.valid_until &&
      signed.quantity === e.quantity && signed.unit === e.unit &&
      keyids.length >= (signed.threshold || 1) &&
      e.officials.every(function (o) { return keyids.indexOf(o.key_id) >= 0; });
    if (!ok) return e.index;
    if (doc.revocation) {
      var r = byIndex.get(doc.revocation.index), revoked = payloadOf(r);
      if (!r || r.kind !== "endorsement_revocation" || !revoked || revoked.code !== doc.code) return doc.revocation.index;
    }
    if (doc.recall) {
      var c = byIndex.get(doc.recall.index);
      if (!c || c.kind !== "recall") return doc.recall.index;
    }
    return null;
  }

  function show(which, message) {
    box.querySelectorAll(".verify-msg").forEach(function (el) {
      if (!el.classList.contains("verify-pending") && !el.classList.contains("verify-server")) el.hidden = true;
    });
    var el = box.querySelector(".verify-" + which);
    if (el) { el.hidden = false; if (message !== undefined) el.textContent = message; }
  }

  function kindName(index, kind) {
    var step = document.getElementById("step-" + index);
    var label = step && step.querySelector(".step-kind");
    if (label) return label.textContent;
    return T["kind" + kind.replace(/(^|_)([a-z])/g, function (m, s, c) { return c.toUpperCase(); })] || kind;
  }

  function mark(index, why) {
    var step = document.getElementById("step-" + index);
    if (!step) return;
    step.dataset.verify = why ? "failed" : "ok";
    var note = step.querySelector(".phone-check");
    if (note) {
      note.hidden = false;
      note.textContent = why ? "\u2717 " + T.stepFailed + ": " + T["why" + why[0].toUpperCase() + why.slice(1)]
                             : "\u2713 " + T.stepOk;
    }
  }

  function fail(where, why, kind) {
    var what = where === "checkpoint" || where === "log" ? (where === "log" ? T.logKey : T.checkpoint)
      : T.record.replace("{index}", where).replace("{kind}", kind || kindName(where, ""));
    var reason = T["why" + why[0].toUpperCase() + why.slice(1)] || why;
    root.dataset.verifyFailed = String(where);
    root.dataset.verifyState = "failed";
    show("failed");
    document.getElementById("verify-failed-step").textContent = T.failed.replace("{step}", what + " \u2014 " + reason);
  }

  async function run() {
    delete root.dataset.verifyDetail;
    if (!(await supported())) { root.dataset.verifyDetail = "unsupported"; show("unsupported"); return; }
    var doc;
    try {
      var controller = new AbortController(), timer = setTimeout(function () { controller.abort(); }, 20000);
      var response = await fetch(root.dataset.verifyUrl, { credentials: "omit", signal: controller.signal, headers: { Accept: "application/json" } });
      clearTimeout(timer);
      if (!response.ok) throw new Error("HTTP " + response.status);
      doc = await response.json();
    } catch (e) { root.dataset.verifyDetail = "network"; show("network"); return; }
    if (doc.status && doc.status !== root.dataset.status) document.getElementById("status-changed").hidden = false;
    var steps = document.querySelectorAll(".timeline .step");
    var cp;
    try { cp = await checkpoint(doc); } catch (e) {
      steps.forEach(function (s) { mark(s.dataset.index, "checkpoint"); });
      return fail(e.index || "checkpoint", e.why || "checkpoint");
    }
    var byIndex = new Map(), keyTable = {};
    (doc.chain || []).forEach(function (e) { byIndex.set(e.index, e); });
    (doc.keys || []).forEach(function (k) { keyTable[k.key_id] = k; });
    var problems = await Promise.all((doc.chain || []).map(function (entry) {
      return entryProblem(entry, cp, keyTable, byIndex).catch(function (e) { return (e && e.why) || "payload"; });
    }));
    var first = null;
    (doc.chain || []).forEach(function (entry, i) {
      mark(entry.index, problems[i]);
      if (problems[i] && !first) first = [entry.index, problems[i], entry.kind];
    });
    steps.forEach(function (step) { /* every step shown must be one of the verified records */
      var entry = byIndex.get(Number(step.dataset.index));
      if (!entry || (step.dataset.digest && step.dataset.digest !== entry.digest)) {
        mark(step.dataset.index, "missing");
        if (!first) first = [step.dataset.index, "missing"];
      }
    });
    if (first) return fail(first[0], first[1], first[2] && kindName(first[0], first[2]));
    var wrong = null;
    try { wrong = endorsementProblem(doc, byIndex); } catch (e) { wrong = doc.endorsement.index; }
    if (wrong !== null) { mark(wrong, "endorsement"); return fail(wrong, "endorsement"); }
    root.dataset.verifyState = "verified";
    show("verified", T.verified.replace("{n}", String(doc.chain.length)));
  }

  var retry = document.getElementById("verify-retry");
  if (retry) retry.addEventListener("click", function () { show("pending"); run(); });
  run();
})();
