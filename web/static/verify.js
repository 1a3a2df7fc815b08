/* Verification on the viewer's phone: trust nothing the server says that a
 * signature or a hash does not prove (docs/verification.md).
 *
 * Fetches the endorsement's verification document and checks:
 *  1. the checkpoint: a C2SP signed note, Ed25519 by the log key (C2SP vkey, key hash
 *     checked), for the log key this page was served with;
 *  2. witnessed: the checkpoint carries enough valid C2SP cosignature/v1 lines from the
 *     witnesses of the logged witness policy to meet its quorum, and recently enough;
 *  3. consistent with what this phone saw: the largest checkpoint this phone verified before
 *     (localStorage, per log; nothing personal) is a prefix of this one, by an RFC 9162
 *     §2.1.4.2 consistency proof; a smaller or diverging one is a named failure;
 *  4. every chain entry: its leaf (RFC 8785 JSON) commits to SHA-256 of the payload, the
 *     payload type, the kind and the envelope's signatures; SHA-256(0x00 || leaf) is included
 *     in the checkpoint's tree (RFC 9162 §2.1.3.2); every DSSE signature is Ed25519 over
 *     PAE(payloadType, payload) by a key whose id is SHA-256 of it, whose registration is in
 *     the chain, and which the chain's key records had not rotated or revoked before that
 *     record (keyLife, the same rules as registry/audit/replay.py); a record dated after its
 *     key's declared compromise is marked suspect;
 *  5. the endorsement shown is the one signed (code, claims, stream, window, quantity), signed
 *     by the officials named; a revocation or recall shown is a logged record;
 *  6. the status is current: the checkpoint's last entry is a registry-signed status index
 *     whose proofs for the code and every batch of its lineage verify, so no revocation,
 *     recall or newer record was left out; the status shown is the one derived from them
 *     (<html data-proven-status>), a different server status is said, not believed.
 * Each step of the page is marked; <html data-verify-state> goes pending -> verified | failed,
 * and a failure names the first step that failed. Where WebCrypto lacks Ed25519 (older
 * WeChat, Douyin, Taobao webviews) the pinned @noble/ed25519 build in /static/vendor/ is
 * loaded (same origin, SRI) and does the same checks. Nothing is loaded from anywhere but
 * this page's origin, and nothing here is inline or evaluated: the page's CSP lists hashes.
 * Written at ES2017 level (async/await, no ?. or ??) for old webviews. */
(function () {
  "use strict";
  var FALLBACK_SRC = "/static/vendor/noble.js";
  var FALLBACK_INTEGRITY = "sha256-SEtMBBUNeWYS+y3NMc8Pyoz5BbuXf9yAHbJEtWMahK4=";
  var MEMORY_PREFIX = "guarantee-registry.checkpoint.";
  var enc = new TextEncoder();
  var dec = new TextDecoder("utf-8", { fatal: true });
  var KEY_KINDS = { key_registration: 1, key_rotation: 1 };

  function Failure(why, index) { this.why = why; this.index = index; }
  function clock() { return window.performance && performance.now ? performance.now() : Date.now(); }

  function b64(s) {
    if (typeof s !== "string" || s.length % 4 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new Failure("payload");
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function toB64(bytes) {
    var s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s);
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

  /* --- crypto: WebCrypto where it has Ed25519, else the vendored pure-JavaScript build --- */

  var engine = null; /* "webcrypto" | "fallback" once chosen */
  var noble = null;
  var subtleDigest = !!(window.crypto && crypto.subtle && crypto.subtle.digest);
  async function sha256(bytes) {
    if (engine !== "fallback" && subtleDigest) return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    return noble.sha256(bytes);
  }
  var keys = new Map();
  async function ed25519(pub, sig, message) {
    if (pub.length !== 32 || sig.length !== 64) return false;
    if (engine === "fallback") return noble.verify(sig, message, pub) === true;
    var id = hex(pub), key = keys.get(id);
    if (!key) {
      try { key = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]); }
      catch (e) { return false; }
      keys.set(id, key);
    }
    return crypto.subtle.verify("Ed25519", key, sig, message);
  }

  /* RFC 8032 §7.1 test 1: proves the chosen Ed25519 works before blaming the data. */
  var TEST_PUB = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
  var TEST_SIG = "5VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc+bRr0lv18FlbviRlUUFDjnoQCw==";
  async function selfTest() {
    try { return (await ed25519(b64(TEST_PUB), b64(TEST_SIG), new Uint8Array(0))) === true; }
    catch (e) { return false; }
  }
  function loadFallback() {
    return new Promise(function (resolve) {
      if (window.GuaranteeRegistryNoble) return resolve(window.GuaranteeRegistryNoble);
      var s = document.createElement("script");
      s.src = FALLBACK_SRC;
      s.integrity = FALLBACK_INTEGRITY;
      s.onload = function () { resolve(window.GuaranteeRegistryNoble || null); };
      s.onerror = function () { resolve(null); };
      document.head.appendChild(s);
    });
  }
  /* Chooses the engine once: "webcrypto", "fallback", or null (neither works). */
  async function chooseEngine() {
    if (engine) return engine;
    if (window.TextEncoder && subtleDigest && crypto.subtle.importKey) {
      engine = "webcrypto";
      if (await selfTest()) return engine;
    }
    noble = await loadFallback();
    engine = noble ? "fallback" : null;
    if (engine && !(await selfTest())) engine = null;
    return engine;
  }

  /* --- C2SP signed notes: the checkpoint and its cosignatures --- */

  /* A C2SP vkey "name+hash+base64(type || key)" of the given signature type. */
  async function parseVkey(vkey, type) {
    if (typeof vkey !== "string") return null;
    var a = vkey.indexOf("+"), b = vkey.indexOf("+", a + 1);
    if (a < 1 || b < 0) return null;
    var name = vkey.slice(0, a), material;
    try { material = b64(vkey.slice(b + 1)); } catch (e) { return null; }
    if (material.length !== 33 || material[0] !== type) return null;
    var pub = material.subarray(1);
    var keyHash = (await sha256(concat(enc.encode(name), new Uint8Array([10, type]), pub))).subarray(0, 4);
    if (hex(keyHash) !== vkey.slice(a + 1, b)) return null;
    return { name: name, pub: pub, keyHash: keyHash, vkey: vkey };
  }
  function splitNote(note) {
    var split = typeof note === "string" ? note.lastIndexOf("\n\n") : -1;
    if (split < 0 || note.slice(-1) !== "\n") return null;
    return { text: note.slice(0, split + 1), lines: note.slice(split + 2, -1).split("\n") };
  }
  function noteSignatures(lines, name) {
    var prefix = "\u2014 " + name + " ", found = [];
    lines.forEach(function (line) {
      if (line.indexOf(prefix) !== 0) return;
      try { found.push(b64(line.slice(prefix.length))); } catch (e) { /* not ours */ }
    });
    return found;
  }

  /* C2SP signed-note + tlog-checkpoint, Ed25519 (type 0x01). Returns {size, root, text, lines}. */
  async function checkpoint(doc, expectedVkey) {
    var vkey = doc.log && doc.log.vkey;
    if (typeof vkey !== "string" || vkey !== expectedVkey) throw new Failure("checkpoint", "log");
    var key = await parseVkey(vkey, 1);
    if (!key) throw new Failure("checkpoint", "log");
    var note = splitNote(doc.checkpoint && doc.checkpoint.note);
    if (!note) throw new Failure("checkpoint", "checkpoint");
    var sigs = noteSignatures(note.lines, key.name), signed = false;
    for (var i = 0; i < sigs.length && !signed; i++) {
      signed = same(sigs[i].subarray(0, 4), key.keyHash) && await ed25519(key.pub, sigs[i].subarray(4), enc.encode(note.text));
    }
    if (!signed) throw new Failure("checkpoint", "checkpoint");
    var body = note.text.slice(0, -1).split("\n");
    if (body.length < 3 || body[0] !== doc.log.origin || key.name !== doc.log.origin ||
        !/^(0|[1-9][0-9]*)$/.test(body[1]) || Number(body[1]) !== doc.checkpoint.size ||
        body[2] !== doc.checkpoint.root) throw new Failure("checkpoint", "checkpoint");
    var rootHash = b64(body[2]);
    if (rootHash.length !== 32) throw new Failure("checkpoint", "checkpoint");
    return { size: Number(body[1]), root: rootHash, text: note.text, lines: note.lines };
  }

  /* A witness policy (c2sp.org/tlog-policy style lines): "witness NAME VKEY [URL]",
   * "group NAME all|any|K MEMBER...", "quorum NAME|none"; other lines are ignored here.
   * Returns {witnesses: {name: vkey}, groups: {name: {need, members}}, quorum}. */
  function parsePolicy(text) {
    var policy = { witnesses: {}, groups: {}, quorum: null };
    String(text || "").split("\n").forEach(function (raw) {
      var line = raw.replace(/#.*$/, "").trim();
      if (!line) return;
      var f = line.split(/\s+/);
      if (f[0] === "witness" && f.length >= 3) policy.witnesses[f[1]] = f[2];
      else if (f[0] === "group" && f.length >= 4) {
        var members = f.slice(3), need = f[2] === "all" ? members.length : f[2] === "any" ? 1 : Number(f[2]);
        policy.groups[f[1]] = { need: need, members: members };
      } else if (f[0] === "quorum" && f.length >= 2) policy.quorum = f[1];
    });
    return policy;
  }
  function quorumMet(policy, name, valid, seen) {
    if (name === "none") return true;
    if (policy.witnesses[name]) return !!valid[name];
    var group = policy.groups[name];
    if (!group || seen[name]) return false;
    seen[name] = 1;
    var n = 0;
    group.members.forEach(function (m) { if (quorumMet(policy, m, valid, seen)) n++; });
    delete seen[name];
    return n >= group.need;
  }

  /* The checkpoint's cosignatures (C2SP tlog-cosignature, type 0x04) against the policy:
   * {ok, stale, witnesses: [{name, time}]}. Each valid one is named with its time. */
  async function witnessed(cp, doc, nowSeconds) {
    var wp = doc.witness_policy || {};
    var policy = parsePolicy(wp.text);
    var names = Object.keys(policy.witnesses), valid = {}, found = [];
    for (var i = 0; i < names.length; i++) {
      var key = await parseVkey(policy.witnesses[names[i]], 4);
      if (!key) continue;
      var sigs = noteSignatures(cp.lines, key.name);
      for (var j = 0; j < sigs.length; j++) {
        var s = sigs[j];
        if (s.length !== 4 + 8 + 64 || !same(s.subarray(0, 4), key.keyHash)) continue;
        var t = 0;
        for (var k = 4; k < 12; k++) t = t * 256 + s[k];
        var message = concat(enc.encode("cosignature/v1\ntime " + t + "\n"), enc.encode(cp.text));
        if (await ed25519(key.pub, s.subarray(12), message)) {
          valid[names[i]] = t;
          found.push({ name: key.name, time: t });
          break;
        }
      }
    }
    var quorum = policy.quorum || (names.length ? null : "none");
    var ok = quorum !== null && quorumMet(policy, quorum, valid, {});
    var window_ = Number(wp.max_age_seconds || 0), newest = 0;
    found.forEach(function (w) { newest = Math.max(newest, w.time); });
    var stale = ok && window_ > 0 && nowSeconds - newest > window_;
    return { ok: ok, stale: stale, witnesses: found, quorum: quorum };
  }

  /* --- Merkle proofs (RFC 9162) --- */

  function node(a, b) { return sha256(concat(new Uint8Array([1]), a, b)); }

  /* §2.1.3.2: the root an inclusion proof implies, or null if it is malformed. */
  async function proofRoot(leafHash, index, size, proof) {
    if (!(index >= 0 && index < size)) return null;
    var fn = index, sn = size - 1, r = leafHash;
    for (var i = 0; i < proof.length; i++) {
      var p = proof[i];
      if (sn === 0 || p.length !== 32) return null;
      if (fn % 2 === 1 || fn === sn) {
        r = await node(p, r);
        if (fn % 2 === 0) while (fn !== 0 && fn % 2 === 0) { fn /= 2; sn = Math.floor(sn / 2); }
      } else {
        r = await node(r, p);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 ? r : null;
  }

  /* §2.1.4.2: does the proof show the tree (first, firstHash) is a prefix of (second, secondHash)? */
  async function consistent(first, second, firstHash, secondHash, proof) {
    if (!(first >= 1 && first <= second)) return false;
    if (first === second) return proof.length === 0 && same(firstHash, secondHash);
    if (!proof.length || proof.some(function (p) { return p.length !== 32; })) return false;
    var path = (first & (first - 1)) === 0 ? [firstHash].concat(proof) : proof.slice();
    var fn = first - 1, sn = second - 1;
    while (fn % 2 === 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    var fr = path[0], sr = path[0];
    for (var i = 1; i < path.length; i++) {
      var c = path[i];
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        fr = await node(c, fr); sr = await node(c, sr);
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        sr = await node(sr, c);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 && same(fr, firstHash) && same(sr, secondHash);
  }

  /* --- what this phone remembers: the largest verified checkpoint per log --- */

  function memory() {
    try {
      var s = window.localStorage, probe = MEMORY_PREFIX + "probe";
      s.setItem(probe, "1"); s.removeItem(probe);
      return s;
    } catch (e) { return null; } /* private mode, disabled storage: skip, not a failure */
  }
  function remembered(store, vkey) {
    try {
      var seen = JSON.parse(store.getItem(MEMORY_PREFIX + vkey) || "null");
      if (seen && seen.size >= 1 && typeof seen.root === "string") {
        return { size: seen.size, root: b64(seen.root), policy: typeof seen.policy === "number" ? seen.policy : -1 };
      }
    } catch (e) { /* unreadable memory is no memory */ }
    return null;
  }
  function remember(store, vkey, cp, policyIndex) {
    try { store.setItem(MEMORY_PREFIX + vkey, JSON.stringify({ size: cp.size, root: toB64(cp.root), policy: policyIndex })); }
    catch (e) { /* full or disabled: nothing to keep */ }
  }
  /* null if consistent with what this phone saw, "older" or "rewritten" otherwise,
   * "policy" if it saw a newer witness policy than this document's (or one where this has
   * none), "network" if the proof could not be fetched, "skipped" without storage. */
  async function consistencyProblem(vkey, cp, fetchProof, policyIndex) {
    var store = memory();
    if (!store) return "skipped";
    var seen = remembered(store, vkey);
    if (seen && cp.size < seen.size) return "older";
    if (seen && policyIndex < seen.policy) return "policy";
    if (seen && cp.size === seen.size && !same(seen.root, cp.root)) return "rewritten";
    if (seen && cp.size > seen.size) {
      var proof;
      try { proof = await fetchProof(seen.size, cp.size); } catch (e) { return "network"; }
      var hashes;
      try { hashes = (proof.hashes || []).map(b64); } catch (e) { return "rewritten"; }
      if (proof.old_size !== seen.size || proof.new_size !== cp.size ||
          !(await consistent(seen.size, cp.size, seen.root, cp.root, hashes))) return "rewritten";
    }
    remember(store, vkey, cp, policyIndex);
    return null;
  }

  /* --- keys as the log says (registry/audit/replay.py is the reference) --- */

  /* Rebuilds each key's life from the key records among ``entries`` (log order; each
   * {index, kind, record (parsed payload or null), keyids}) and judges every signature:
   * returns {verdicts: {index: {verdict: "ok"|"refused"|"suspect", reason, key, at}}, keys}.
   * A signature by a key no earlier record registered, or one the chain rotated or revoked at
   * an earlier index, is refused (as the audit's replay refuses it); a record whose signed
   * time is at or after a compromised_since that a revocation of its key declares is suspect
   * (as the audit's evidence marks it). A key record that the replay would refuse is refused. */
  function keyLife(entries) {
    var life = {}, verdicts = {};
    var sorted = entries.slice().sort(function (a, b) { return a.index - b.index; });
    function refuse(e, reason, key, at) {
      if (!verdicts[e.index] || verdicts[e.index].verdict !== "refused") {
        verdicts[e.index] = { verdict: "refused", reason: reason, key: key, at: at };
      }
    }
    sorted.forEach(function (e) {
      var r = e.record || {}, kind = e.kind;
      verdicts[e.index] = { verdict: "ok" };
      var newKey = KEY_KINDS[kind] && r.key ? r.key.id : null;
      (e.keyids || []).forEach(function (id) {
        if (id === newKey) return; /* proof of possession of the key being registered */
        var k = life[id];
        if (!k) return refuse(e, "unregistered", id, null);
        if (k.ended !== null) return refuse(e, k.how, id, k.ended);
      });
      if (kind === "key_registration" && newKey) {
        if (life[newKey]) return refuse(e, "reregistered", newKey, life[newKey].registered);
        life[newKey] = { registered: e.index, ended: null, how: "", compromised_since: null };
      } else if (kind === "key_rotation" && newKey) {
        var old = life[r.old_key];
        if (!old || old.ended !== null) return refuse(e, "inactive", r.old_key, old ? old.ended : null);
        if (life[newKey]) return refuse(e, "reregistered", newKey, life[newKey].registered);
        old.ended = e.index; old.how = "rotated";
        life[newKey] = { registered: e.index, ended: null, how: "", compromised_since: null };
      } else if (kind === "key_revocation") {
        var k = life[r.key_id];
        if (!k) return refuse(e, "unregistered", r.key_id, null);
        if (k.how === "revoked") return refuse(e, "revoked", r.key_id, k.ended);
        if (k.ended === null) k.ended = e.index;
        k.how = "revoked";
        if (r.compromised_since) k.compromised_since = r.compromised_since;
      }
    });
    sorted.forEach(function (e) {
      if (verdicts[e.index].verdict !== "ok" || !e.record || !e.record.time) return;
      var newKey = KEY_KINDS[e.kind] && e.record.key ? e.record.key.id : null;
      var signed = Date.parse(e.record.time);
      (e.keyids || []).forEach(function (id) {
        var k = life[id];
        if (id === newKey || !k || !k.compromised_since) return;
        if (signed >= Date.parse(k.compromised_since) && verdicts[e.index].verdict === "ok") {
          verdicts[e.index] = { verdict: "suspect", reason: "compromised", key: id, at: k.compromised_since };
        }
      });
    });
    return { verdicts: verdicts, keys: life };
  }

  /* --- the records --- */

  function payloadOf(entry) {
    if (!entry || entry.envelope.payload === null) return null;
    return JSON.parse(dec.decode(b64(entry.envelope.payload)));
  }

  /* One chain entry: null if it verifies, else why not. */
  async function entryProblem(entry, cp, keyTable, byIndex) {
    if (entry.bundleProblem) return entry.bundleProblem; /* its tlog-proof did not read */
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
      if (seen[s.keyid]) return "key";
      seen[s.keyid] = 1;
      if (!key) {
        /* the new key of a key record signs as proof of possession: its key is in the record */
        if (!KEY_KINDS[record.kind] || !record.key || record.key.id !== s.keyid) return "key";
        key = { public_key: record.key.public_key, registered_index: entry.index };
      }
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
  function endorsementProblem(doc, byIndex, code) {
    var e = doc.endorsement, entry = byIndex.get(e.index), signed = payloadOf(entry);
    if (!entry || entry.kind !== "endorsement" || !signed) return e.index;
    var keyids = entry.envelope.signatures.map(function (s) { return s.keyid; });
    var ok = signed.code === doc.code && doc.code === code &&
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

  /* The witness policy in force is a logged record signed by the registry's own key (its
   * registration, verified with the chain, says role "registry"), included in this
   * checkpoint, and says exactly the policy text and age limit used. Its log index, or null. */
  async function policyProblem(wp, cp, keyTable, byIndex) {
    var entry = wp.record;
    if (!entry || entry.kind !== "witness_policy") return null;
    var problem;
    try { problem = await entryProblem(entry, cp, keyTable, byIndex); } catch (e) { problem = "payload"; }
    if (problem) return null;
    var signed = payloadOf(entry);
    if (!signed || signed.policy !== wp.text || signed.max_age_seconds !== wp.max_age_seconds) return null;
    var byRegistry = (entry.envelope.signatures || []).some(function (s) {
      var key = keyTable[s.keyid], reg = key && byIndex.get(key.registered_index), doc = null;
      try { doc = reg && payloadOf(reg); } catch (e) { doc = null; }
      return !!(doc && doc.key && doc.key.id === s.keyid && doc.holder && doc.holder.role === "registry");
    });
    return byRegistry ? entry.index : null;
  }

  /* --- the status index: the status is current (docs/records.md, "The status index") --- */

  var EMPTY = new Uint8Array(32);
  function bitAt(digest, d) { return (digest[d >> 3] >> (7 - (d & 7))) & 1; }
  function isIndex(n) { return typeof n === "number" && n >= 0 && Math.floor(n) === n; }
  /* The root ``proof`` leads to for ``key`` holding ``value`` (null: absent), or null if it
   * cannot be a proof of this construction (registry/log/status_index.py: root_from_proof). */
  async function indexRoot(key, value, proof) {
    if (!proof || typeof proof !== "object" || !Array.isArray(proof.siblings) || proof.siblings.length > 256) return null;
    var siblings, other = proof.other, node;
    try { siblings = proof.siblings.map(b64); } catch (e) { return null; }
    if (siblings.some(function (s) { return s.length !== 32; })) return null;
    var digest = await sha256(enc.encode(key)), depth = siblings.length;
    if (value !== null) {
      if (other !== null && other !== undefined) return null; /* ends at another key's leaf */
      node = await sha256(concat(new Uint8Array([2]), digest, await sha256(enc.encode(canon(value)))));
    } else if (other === null || other === undefined) {
      node = EMPTY;
    } else {
      var ok, ov;
      try { ok = b64(other.key_hash); ov = b64(other.value_hash); } catch (e) { return null; }
      if (ok.length !== 32 || ov.length !== 32 || same(ok, digest)) return null;
      for (var d = 0; d < depth; d++) if (bitAt(ok, d) !== bitAt(digest, d)) return null; /* off the path */
      node = await sha256(concat(new Uint8Array([2]), ok, ov));
    }
    /* A leaf beside an empty subtree would have been collapsed one level up. */
    if (depth && same(siblings[0], EMPTY) && !same(node, EMPTY)) return null;
    for (var i = 0; i < depth; i++) {
      var s = siblings[i];
      node = await sha256(bitAt(digest, depth - 1 - i) ? concat(new Uint8Array([3]), s, node) : concat(new Uint8Array([3]), node, s));
    }
    return node;
  }
  /* The values the index holds: {endorsement, revocation} or {head, recall}, each a log index
   * or (the second) null; anything else is not a value this registry commits to. */
  function indexValue(value, first, second) {
    return !!value && typeof value === "object" && Object.keys(value).length === 2 && isIndex(value[first]) &&
      (value[second] === null || isIndex(value[second]));
  }
  function statusFailure(why) { return new Failure(why, "status"); }

  /* Acceptance rules 1-4: the status this document proves at ``now`` (seconds), or a
   * Failure("status", why). Runs after every chain entry verified (their ``problems`` clear). */
  async function provenStatus(doc, cp, keyTable, byIndex, life, code, now) {
    var si = doc.status_index;
    if (!si || typeof si !== "object" || !si.head || typeof si.head !== "object" || !Array.isArray(si.proofs)) throw statusFailure("statusMissing");
    /* 1. the checkpoint's last entry, a registry-signed status_index whose size is its own index */
    var h = si.head, headDigest = "";
    if (h.index !== cp.size - 1 || !h.envelope || typeof h.envelope !== "object") throw statusFailure("statusHead");
    try { headDigest = String(JSON.parse(dec.decode(b64(h.leaf))).payload_sha256); } catch (e) { throw statusFailure("statusHead"); }
    var head = { index: h.index, kind: "status_index", envelope: h.envelope, leaf: h.leaf,
                 inclusion_proof: h.inclusion_proof || [], digest: headDigest, bundleProblem: h.bundleProblem };
    var problem, signed = null, root = null;
    try { problem = await entryProblem(head, cp, keyTable, byIndex); } catch (e) { problem = "payload"; }
    if (problem) throw statusFailure("statusHead");
    try { signed = payloadOf(head); root = b64(signed.root); } catch (e) { signed = null; }
    if (!signed || signed.kind !== "status_index" || signed.size !== h.index || !root || root.length !== 32) throw statusFailure("statusHead");
    var byRegistry = (head.envelope.signatures || []).some(function (s) {
      var key = keyTable[s.keyid], reg = key && byIndex.get(key.registered_index), registration = null, lived = life.keys[s.keyid];
      try { registration = reg && payloadOf(reg); } catch (e) { registration = null; }
      return !!(registration && registration.key && registration.key.id === s.keyid && registration.holder &&
        registration.holder.role === "registry" && lived && (lived.ended === null || lived.ended > h.index));
    });
    if (!byRegistry) throw statusFailure("statusHead");
    /* 2. every proof leads to that root */
    var values = {};
    var roots = await Promise.all(si.proofs.map(function (p) {
      if (!p || typeof p.key !== "string" || p.value === undefined) return null;
      return indexRoot(p.key, p.value, p.proof).catch(function () { return null; });
    }));
    for (var i = 0; i < roots.length; i++) {
      if (!roots[i] || !same(roots[i], root)) throw statusFailure("statusProof");
      values[si.proofs[i].key] = si.proofs[i].value;
    }
    /* 3. the code's value names this endorsement record; every covered batch and every ancestor
     * the chain's processing records name is there, and its newest record is in the chain */
    var ev = values["endorsement:" + code], endorsement = ev && byIndex.get(ev.endorsement), terms = null;
    if (!indexValue(ev, "endorsement", "revocation") || ev.endorsement !== doc.endorsement.index) throw statusFailure("statusEndorsement");
    try { terms = payloadOf(endorsement); } catch (e) { terms = null; }
    if (!terms || endorsement.kind !== "endorsement" || terms.code !== code || !Array.isArray(terms.covers)) throw statusFailure("statusEndorsement");
    var lineage = {}, grew = true;
    terms.covers.forEach(function (b) { lineage[b] = 1; });
    var made = (doc.chain || []).filter(function (e) { return e.kind === "processing"; }).map(function (e) {
      var r = null;
      try { r = payloadOf(e); } catch (x) { r = null; }
      function batchesOf(list) { return Array.isArray(list) ? list.map(function (item) { return item && item.batch; }) : []; }
      return r ? { inputs: batchesOf(r.inputs), outputs: batchesOf(r.outputs) } : { inputs: [], outputs: [] };
    });
    while (grew) {
      grew = false;
      made.forEach(function (m) {
        if (!m.outputs.some(function (b) { return lineage[b]; })) return;
        m.inputs.forEach(function (b) { if (typeof b === "string" && !lineage[b]) { lineage[b] = 1; grew = true; } });
      });
    }
    var recalled = false;
    Object.keys(lineage).forEach(function (b) {
      var v = values["batch:" + b], newest = v && byIndex.get(v.head), named = null;
      if (!indexValue(v, "head", "recall") || !newest) throw statusFailure("statusBatch");
      try { named = payloadOf(newest); } catch (e) { throw statusFailure("statusBatch"); }
      /* an erased payload keeps its log entry: the index still names it, and it is in the chain */
      if (named && !(Array.isArray(named.batches) && named.batches.indexOf(b) >= 0)) throw statusFailure("statusBatch");
      if (v.recall !== null) recalled = true;
    });
    /* 4. recalled > revoked > the signed window (half-open), on this phone's clock */
    if (recalled) return "recalled";
    if (ev.revocation !== null) return "revoked";
    var at = now * 1000;
    if (at < Date.parse(terms.valid_from)) return "not_yet_valid";
    if (!(at < Date.parse(terms.valid_until))) return "expired";
    return "valid";
  }

  /* The whole verification of one document, without touching the page: {state, failed,
   * why, kind, problems (per chain position), suspects, witnesses, memory}. ``opts``:
   * {vkey, code, now (seconds), fetchProof(old, new) or null (offline: memory not asked)}. */
  async function verifyDocument(doc, opts) {
    var result = { state: "failed", problems: [], suspects: [], witnesses: [], memory: null };
    function failed(where, why, kind) { result.failed = where; result.why = why; result.kind = kind; return result; }
    var cp;
    try { cp = await checkpoint(doc, opts.vkey); } catch (e) { return failed(e.index || "checkpoint", e.why || "checkpoint"); }
    var chain = doc.chain || [], byIndex = new Map(), keyTable = {};
    chain.forEach(function (e) { byIndex.set(e.index, e); });
    (doc.keys || []).forEach(function (k) { keyTable[k.key_id] = k; });
    var policyIndex = doc.witness_policy ? await policyProblem(doc.witness_policy, cp, keyTable, byIndex) : -1;
    if (policyIndex === null) return failed("witnessed", "policy");
    result.policyIndex = policyIndex;
    var w = await witnessed(cp, doc, opts.now);
    result.witnesses = w.witnesses;
    result.unpolicied = policyIndex < 0;
    if (!w.ok) return failed("witnessed", "unwitnessed");
    if (w.stale) result.stale = true;
    if (opts.fetchProof) {
      var seen = await consistencyProblem(opts.vkey, cp, opts.fetchProof, policyIndex);
      result.memory = seen || "ok";
      if (seen === "older" || seen === "rewritten") return failed("consistent", seen);
      if (seen === "policy") return failed("witnessed", "unwitnessed");
    }
    var problems = await Promise.all(chain.map(function (entry) {
      return entryProblem(entry, cp, keyTable, byIndex).catch(function (e) { return (e && e.why) || "payload"; });
    }));
    var life = keyLife(chain.map(function (entry, i) {
      var record = null;
      try { record = problems[i] ? null : payloadOf(entry); } catch (e) { record = null; }
      return { index: entry.index, kind: entry.kind, record: record,
               keyids: (entry.envelope.signatures || []).map(function (s) { return s.keyid; }) };
    }));
    chain.forEach(function (entry, i) {
      var v = life.verdicts[entry.index];
      if (!problems[i] && v && v.verdict === "refused") problems[i] = "key" + v.reason[0].toUpperCase() + v.reason.slice(1);
      if (!problems[i] && v && v.verdict === "suspect") result.suspects.push(entry.index);
    });
    result.problems = problems;
    for (var i = 0; i < chain.length; i++) if (problems[i]) return failed(chain[i].index, problems[i], chain[i].kind);
    var wrong = null;
    try { wrong = endorsementProblem(doc, byIndex, opts.code); } catch (e) { wrong = doc.endorsement.index; }
    if (wrong !== null) return failed(wrong, "endorsement");
    var started = clock();
    try { result.proven = await provenStatus(doc, cp, keyTable, byIndex, life, opts.code, opts.now); }
    catch (e) { return failed("status", (e && e.why) || "statusProof"); }
    finally { result.statusMs = Math.round((clock() - started) * 10) / 10; }
    result.state = "verified";
    result.cp = cp;
    return result;
  }

  /* --- the guarantee bundle: the one format of GET /e/{code}/bundle.json, of what this page
   * saves and opens, and of `registry verify-bundle` (registry/endorsements/bundle.py is
   * the reference). Each record is {index, kind, envelope, tlog_proof}: a c2sp.org/tlog-proof
   * with the leaf's exact bytes as "extra", the index, the inclusion path, a blank line and
   * the cosigned checkpoint verbatim. --- */

  var BUNDLE_FORMAT = "guarantee-registry-bundle/v1";
  var TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1";

  function bundleRecord(entry, note) {
    var lines = [TLOG_PROOF_HEADER, "extra " + entry.leaf, "index " + entry.index];
    return { index: entry.index, kind: entry.kind, envelope: entry.envelope,
             tlog_proof: lines.concat(entry.inclusion_proof || []).join("\n") + "\n\n" + note };
  }
  /* The bundle of a verification document this page verified (same fields, same order as
   * the server's build_bundle). */
  function toBundle(doc) {
    var note = doc.checkpoint.note, wp = doc.witness_policy;
    return {
      format: BUNDLE_FORMAT, code: doc.code, status: doc.status, computed_at: doc.computed_at,
      endorsement_index: doc.endorsement.index, log: doc.log, checkpoint: note,
      witness_policy: wp ? { text: wp.text, max_age_seconds: wp.max_age_seconds, record: bundleRecord(wp.record, note) } : null,
      keys: doc.keys,
      records: (doc.chain || []).map(function (entry) { return bundleRecord(entry, note); }),
      status_index: doc.status_index ? statusIndexPart(doc.status_index, note) : null
    };
  }
  /* The document's status index as the bundle holds it: the head as a record (its kind is
   * always status_index), the proofs verbatim (docs/records.md, "The status index"). */
  function statusIndexPart(index, note) {
    var head = index.head || {};
    var entry = { index: head.index, kind: "status_index", envelope: head.envelope,
                  leaf: head.leaf, inclusion_proof: head.inclusion_proof };
    return { head: bundleRecord(entry, note), proofs: index.proofs };
  }
  /* A bundle record as a chain entry. A tlog-proof that does not read, names another index
   * or another checkpoint than the bundle's fails that record ("proof"), as verify-bundle does. */
  function bundleEntry(item, note) {
    if (!item || typeof item !== "object" || typeof item.index !== "number" || Math.floor(item.index) !== item.index ||
        typeof item.kind !== "string" || !item.envelope || typeof item.envelope !== "object") throw new Failure("bundle");
    var entry = { index: item.index, kind: item.kind, envelope: item.envelope, leaf: "", inclusion_proof: [], digest: "" };
    var text = typeof item.tlog_proof === "string" ? item.tlog_proof : "", split = text.indexOf("\n\n");
    var head = split < 0 ? [] : text.slice(0, split).split("\n"), at = 1;
    if (head[0] !== TLOG_PROOF_HEADER || text.slice(split + 2) !== note ||
        !head[at] || head[at].indexOf("extra ") !== 0) { entry.bundleProblem = "proof"; return entry; }
    entry.leaf = head[at++].slice(6);
    var index = /^index (0|[1-9][0-9]*)$/.exec(head[at] || "");
    if (!index || Number(index[1]) !== item.index) { entry.bundleProblem = "proof"; return entry; }
    entry.inclusion_proof = head.slice(at + 1);
    try { entry.digest = String(JSON.parse(dec.decode(b64(entry.leaf))).payload_sha256); }
    catch (e) { entry.bundleProblem = "payload"; }
    return entry;
  }
  /* The verification document a bundle stands for, checked by verifyDocument like a fetched
   * one (offline); null if the file is not a bundle. The endorsement, revocation and recall
   * are the bundle's own signed records. */
  function fromBundle(bundle) {
    try {
      if (!bundle || bundle.format !== BUNDLE_FORMAT || typeof bundle.checkpoint !== "string" ||
          !Array.isArray(bundle.records) || !bundle.log || typeof bundle.code !== "string") return null;
      var note = bundle.checkpoint, body = note.split("\n"), wp = bundle.witness_policy;
      var chain = bundle.records.map(function (item) { return bundleEntry(item, note); });
      var si = bundle.status_index; /* its head a record like the others; a bad one fails the status step */
      var statusIndex = null;
      if (si && typeof si === "object" && Array.isArray(si.proofs)) {
        statusIndex = { head: null, proofs: si.proofs };
        try { statusIndex.head = bundleEntry(si.head, note); } catch (e) { statusIndex.head = null; }
      }
      var doc = {
        code: bundle.code, status: bundle.status, computed_at: bundle.computed_at, log: bundle.log,
        checkpoint: { size: /^(0|[1-9][0-9]*)$/.test(body[1] || "") ? Number(body[1]) : -1, root: body[2], note: note },
        chain: chain, keys: Array.isArray(bundle.keys) ? bundle.keys : [],
        witness_policy: wp ? { text: wp.text, max_age_seconds: wp.max_age_seconds, record: bundleEntry(wp.record, note) } : null,
        endorsement: { index: bundle.endorsement_index, officials: [] },
        status_index: statusIndex
      };
      chain.forEach(function (entry) {
        var signed = null;
        try { signed = entry.bundleProblem ? null : payloadOf(entry); } catch (e) { signed = null; }
        if (!signed) return;
        if (entry.index === bundle.endorsement_index) {
          ["claims", "stream", "valid_from", "valid_until", "quantity", "unit"].forEach(function (k) { doc.endorsement[k] = signed[k]; });
        } else if (entry.kind === "endorsement_revocation" && signed.code === bundle.code) doc.revocation = { index: entry.index };
        else if (entry.kind === "recall") doc.recall = { index: entry.index };
      });
      return doc;
    } catch (e) { return null; }
  }

  var api = {
    keyLife: keyLife, toBundle: toBundle, fromBundle: fromBundle, consistent: consistent, parsePolicy: parsePolicy,
    verifyDocument: verifyDocument, chooseEngine: chooseEngine,
    /* the "witnessed" step alone, on a note: {ok, stale, witnesses} */
    witnessedNote: async function (note, policyText, maxAge, now) {
      await chooseEngine();
      var parts = splitNote(note);
      return witnessed(parts, { witness_policy: { text: policyText, max_age_seconds: maxAge } }, now);
    },
    /* the root a status-index proof leads to (base64), or null: the vectors run through this */
    indexProofRoot: async function (key, value, proof) {
      await chooseEngine();
      var found = await indexRoot(key, value, proof);
      return found && toB64(found);
    },
    engine: function () { return engine; },
    decodeBase64: b64
  };
  window.GuaranteeRegistryVerify = api;

  /* --- the page --- */

  var root = document.documentElement;
  root.classList.add("js");
  var T = (document.getElementById("verify-text") || {}).dataset;
  var box = document.getElementById("verify");
  if (!T || !box || !root.dataset.verifyUrl) return;

  function word(key, fallback) { return T[key] || fallback || key; }
  function whyText(why) { return word("why" + why[0].toUpperCase() + why.slice(1), why); }

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
    return T["kind" + String(kind).replace(/(^|_)([a-z])/g, function (m, s, c) { return c.toUpperCase(); })] || kind;
  }

  function mark(index, why, suspect) {
    var step = document.getElementById("step-" + index);
    if (!step) return;
    step.dataset.verify = why ? "failed" : suspect ? "suspect" : "ok";
    var note = step.querySelector(".phone-check");
    if (note) {
      note.hidden = false;
      note.textContent = why ? "\u2717 " + T.stepFailed + ": " + whyText(why)
        : suspect ? "\u26a0 " + word("stepSuspect") : "\u2713 " + T.stepOk;
    }
  }

  /* The two log steps of the steps list: "witnessed" and "consistent with what this phone saw". */
  function markLogStep(name, state, detail) {
    var el = document.querySelector("[data-log-step=" + name + "]");
    if (!el) return;
    el.dataset.verify = state;
    var note = el.querySelector(".log-step-detail");
    if (note) { note.hidden = !detail; note.textContent = detail || ""; }
  }
  function when(seconds) {
    try { return new Date(seconds * 1000).toLocaleString(root.lang || undefined); }
    catch (e) { return new Date(seconds * 1000).toISOString(); }
  }

  function fail(where, why, kind) {
    var what = where === "checkpoint" ? T.checkpoint : where === "log" ? T.logKey
      : where === "witnessed" ? word("stepWitnessed") : where === "consistent" ? word("stepConsistent")
      : where === "status" ? word("stepStatus")
      : T.record.replace("{index}", where).replace("{kind}", kind || kindName(where, ""));
    root.dataset.verifyFailed = String(where);
    root.dataset.verifyState = "failed";
    show("failed");
    document.getElementById("verify-failed-step").textContent = T.failed.replace("{step}", what + " \u2014 " + whyText(why));
  }

  /* The status shown is the one this phone proved: the banner takes the proven status's icon
   * and words (from the page's <template>, every status rendered once), and a server status
   * that differs is said, not believed. */
  var claimedNotice = document.getElementById("status-claimed");
  var banners = document.getElementById("status-banners");
  var renderedTitle = document.title;
  function statusWord(status) {
    var main = banners && banners.content.querySelector("[data-shows=" + JSON.stringify(String(status)) + "] .status-word");
    return main ? main.textContent : String(status);
  }
  function showProven(proven, claimed, headIndex) {
    root.dataset.provenStatus = proven;
    markLogStep("status", "ok", word("statusProven").replace("{status}", statusWord(proven)).replace("{index}", String(headIndex)));
    var banner = document.querySelector("[data-testid=banner]"), main = banner && banner.querySelector(".banner-main");
    var shown = main && (main.dataset.shows || root.dataset.status);
    if (main && banners && shown !== proven) {
      var replacement = banners.content.querySelector("[data-shows=" + JSON.stringify(proven) + "]");
      if (replacement) main.replaceWith(replacement.cloneNode(true));
      banner.className = "banner banner-" + proven;
      var reason = banner.querySelector(".reason");
      if (reason) reason.hidden = proven !== root.dataset.status; /* it says why the rendered status holds */
      var rendered = statusWord(root.dataset.status);
      document.title = renderedTitle.indexOf(rendered) === 0 ? statusWord(proven) + renderedTitle.slice(rendered.length) : renderedTitle;
    }
    if (claimed !== proven && claimedNotice) {
      root.dataset.statusClaimed = String(claimed);
      claimedNotice.textContent = word("statusClaimed").replace("{claimed}", statusWord(claimed)).replace("{proven}", statusWord(proven));
      claimedNotice.hidden = false;
    }
  }

  async function fetchJson(url) {
    var controller = new AbortController(), timer = setTimeout(function () { controller.abort(); }, 20000);
    try {
      var response = await fetch(url, { credentials: "omit", signal: controller.signal, headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error("HTTP " + response.status);
      return await response.json();
    } finally { clearTimeout(timer); }
  }

  var lastDocument = null;
  async function present(doc, online) {
    var started = Date.now();
    lastDocument = null; /* only what verifies now can be saved or attached */
    if (saveButton) saveButton.hidden = true;
    if (reportBundle) reportBundle.hidden = true;
    delete root.dataset.verifyFailed;
    delete root.dataset.verifySuspect;
    delete root.dataset.provenStatus; /* set only once everything, the status step last, verified */
    delete root.dataset.statusClaimed;
    delete root.dataset.verifyStatusMs;
    if (claimedNotice) claimedNotice.hidden = true;
    markLogStep("status", "pending");
    root.dataset.verifyState = "pending";
    if (doc.status && doc.status !== root.dataset.status) document.getElementById("status-changed").hidden = false;
    var steps = document.querySelectorAll(".timeline .step");
    var result = await verifyDocument(doc, {
      vkey: root.dataset.logVkey, code: root.dataset.code, now: Math.floor(Date.now() / 1000),
      fetchProof: online ? function (m, n) { return fetchJson("/log/proof/consistency?old=" + m + "&new=" + n); } : null
    });
    root.dataset.verifyEngine = engine;
    root.dataset.verifyMs = String(Date.now() - started);
    if (result.failed === "checkpoint" || result.failed === "log") {
      steps.forEach(function (s) { mark(s.dataset.index, "checkpoint"); });
      return fail(result.failed, result.why);
    }
    var names = result.witnesses.map(function (w) { return w.name + " (" + when(w.time) + ")"; }).join(", ");
    if (result.failed === "witnessed") {
      markLogStep("witnessed", "failed", whyText(result.why) + (names ? ": " + names : ""));
      return fail("witnessed", result.why);
    }
    var witnessState = result.unpolicied ? "skipped" : result.stale ? "stale" : "ok";
    markLogStep("witnessed", witnessState, result.unpolicied ? word("noPolicy")
      : (result.stale ? word("notRecentlyWitnessed") + " " : word("witnessedBy") + " ") + (names || word("noWitnesses")));
    root.dataset.verifyWitnessed = witnessState;
    var memoryState = { ok: "ok", skipped: "skipped", network: "skipped", older: "failed", rewritten: "failed" }[result.memory] || "skipped";
    markLogStep("consistent", memoryState,
      result.memory === "ok" ? word("consistentOk") : result.memory === "older" || result.memory === "rewritten"
        ? whyText(result.memory) : word("memorySkipped"));
    root.dataset.verifyMemory = result.memory || "offline";
    if (result.failed === "consistent") return fail("consistent", result.why);
    var byIndex = new Map(), first = null;
    (doc.chain || []).forEach(function (entry, i) {
      byIndex.set(entry.index, entry);
      mark(entry.index, result.problems[i], result.suspects.indexOf(entry.index) >= 0);
    });
    steps.forEach(function (step) { /* every step shown must be one of the verified records */
      var entry = byIndex.get(Number(step.dataset.index));
      if (!entry || (step.dataset.digest && step.dataset.digest !== entry.digest)) {
        mark(step.dataset.index, "missing");
        if (!first) first = [step.dataset.index, "missing"];
      }
    });
    if (result.failed !== undefined && result.failed !== "status") {
      if (result.why === "endorsement") mark(result.failed, "endorsement");
      return fail(result.failed, result.why, result.kind && kindName(result.failed, result.kind));
    }
    if (first) return fail(first[0], first[1]);
    if (result.failed === "status") {
      markLogStep("status", "failed", whyText(result.why));
      return fail("status", result.why);
    }
    root.dataset.verifyStatusMs = String(result.statusMs);
    showProven(result.proven, doc.status, doc.status_index.head.index);
    lastDocument = doc;
    if (saveButton) saveButton.hidden = false;
    /* verify-bundle judges the checkpoint by the logged witness policy: none, nothing to attach */
    if (reportBundle && doc.witness_policy) reportBundle.hidden = false;
    root.dataset.verifyState = "verified";
    var message = T.verified.replace("{n}", String(doc.chain.length));
    if (result.suspects.length) {
      root.dataset.verifySuspect = result.suspects.join(",");
      message += " " + word("suspectRecords").replace("{records}", result.suspects.map(function (i) { return "#" + i; }).join(", "));
    }
    if (result.stale) message += " " + word("notRecentlyWitnessed");
    show("verified", message);
  }

  async function run() {
    delete root.dataset.verifyDetail;
    if (!(await chooseEngine())) { root.dataset.verifyDetail = "unsupported"; show("unsupported"); return; }
    var doc;
    try { doc = await fetchJson(root.dataset.verifyUrl); }
    catch (e) { root.dataset.verifyDetail = "network"; show("network"); return; }
    await present(doc, true);
    /* A published (static) document can be older than a checkpoint this phone verified since
     * (another code's): ask the live path once for one as new as the log (docs/scaling.md). */
    if (root.dataset.verifyMemory !== "older") return;
    try { doc = await fetchJson(root.dataset.verifyUrl + "?live=1"); }
    catch (e) { return; }
    root.dataset.verifySource = "live";
    await present(doc, true);
  }

  /* The guarantee bundle: what this page verified, saved in the one bundle format (the
   * server's bundle.json, `registry verify-bundle`), and such a file opened again (checked
   * here, offline, with the same code; docs/phone-verification.md "The evidence file"). */
  var saveButton = document.getElementById("bundle-save");
  if (saveButton) saveButton.addEventListener("click", function () {
    if (!lastDocument) return;
    var blob = new Blob([JSON.stringify(toBundle(lastDocument))], { type: "application/json" });
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "guarantee-" + root.dataset.code + ".json";
    document.body.appendChild(link);
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
  });
  /* A problem report carries the bundle this page verified, unless the viewer unticks it. */
  var reportBundle = document.getElementById("report-bundle");
  var reportForm = reportBundle && reportBundle.closest("form");
  if (reportForm) reportForm.addEventListener("submit", function () {
    var attach = document.getElementById("report-attach"), data = document.getElementById("report-bundle-data");
    data.value = lastDocument && lastDocument.witness_policy && attach && attach.checked
      ? JSON.stringify(toBundle(lastDocument)) : "";
  });
  var openInput = document.getElementById("bundle-open");
  if (openInput) openInput.addEventListener("change", async function () {
    var file = openInput.files && openInput.files[0];
    if (!file) return;
    show("pending");
    var doc = null;
    try { doc = fromBundle(JSON.parse(await file.text())); } catch (e) { doc = null; }
    openInput.value = "";
    if (!doc) {
      root.dataset.verifyState = "failed"; root.dataset.verifyFailed = "bundle";
      delete root.dataset.provenStatus; delete root.dataset.statusClaimed; /* nothing proved now */
      show("failed");
      document.getElementById("verify-failed-step").textContent = T.failed.replace("{step}", word("notABundle"));
      return;
    }
    root.dataset.verifySource = "bundle";
    if (!(await chooseEngine())) { show("unsupported"); return; }
    await present(doc, false);
  });

  var retry = document.getElementById("verify-retry");
  if (retry) retry.addEventListener("click", function () { show("pending"); run(); });
  run();
})();
