/* The OBS overlay's script: applies the layout the URL asked for, gives the QR a whole number
   of pixels per module, and keeps the status and the scan count live from this registry's
   event stream (server-sent events; the browser reconnects by itself), falling back to
   polling when the stream cannot be had. Same origin only. Written for older Chromium-based
   browsers (OBS's), so no newer syntax. */
(function () {
  "use strict";
  var root = document.getElementById("overlay");
  if (!root) { return; }

  // --- layout: scale and margin were validated by the server; the stylesheet reads them.
  var scale = root.getAttribute("data-scale");
  var margin = root.getAttribute("data-margin");
  if (scale) { root.style.setProperty("--scale", scale); }
  if (margin) { root.style.setProperty("--margin", margin + "px"); }

  // --- the QR: a whole number of pixels per module stays sharp on a scaled, compressed
  // stream; the light box around it only widens the quiet zone.
  var box = root.querySelector(".qr");
  var svg = box ? box.querySelector("svg") : null;
  var modules = box ? parseInt(box.getAttribute("data-qr-modules"), 10) : 0;
  function fitQr() {
    if (!svg || !modules) { return; }
    var side = Math.min(box.clientWidth, box.clientHeight);
    var perModule = Math.floor(side / modules);
    if (perModule < 1) { return; }
    svg.style.width = perModule * modules + "px";
    svg.style.height = perModule * modules + "px";
    root.setAttribute("data-qr-module-px", String(perModule));
  }
  fitQr();
  window.addEventListener("resize", fitQr);

  // --- the live state
  var counter = document.getElementById("scan-count");
  var warning = document.getElementById("status-warning");
  var words = document.getElementById("status-words");
  var eventsUrl = root.getAttribute("data-events-url");
  var statusUrl = root.getAttribute("data-status-url");
  var pollMs = parseInt(root.getAttribute("data-poll-ms"), 10) || 2000;
  var SILENT_MS = 35000; // three heartbeats missed: the connection is dead, start over
  var RETRY_STREAM_MS = 15000; // while polling, try the stream again this often

  function statusWords(status) {
    var key = "data-" + status.replace(/_/g, "-");
    if (!words || !words.hasAttribute(key + "-zh")) { return null; }
    return [words.getAttribute(key + "-zh"), words.getAttribute(key + "-en")];
  }

  function showScans(total) {
    if (typeof total !== "number") { return; }
    root.setAttribute("data-scans", String(total));
    counter.textContent = total.toLocaleString("zh-CN");
  }

  function showStatus(status) {
    var label = typeof status === "string" ? statusWords(status) : null;
    if (!label || status === root.getAttribute("data-status")) { return; }
    root.className = root.className.replace(/status-[a-z_]+/, "status-" + status);
    root.setAttribute("data-status", status);
    warning.hidden = status === "valid";
    warning.querySelector(".zh").textContent = label[0];
    warning.querySelector(".en").textContent = label[1];
  }

  function show(state) {
    if (!state) { return; }
    showStatus(state.status);
    showScans(state.scans);
  }

  function setLive(value) { root.setAttribute("data-live", value); }

  // Polling, while the stream is unavailable.
  var polling = false;
  var pollTimer = null;
  function poll() {
    pollTimer = null;
    fetch(statusUrl, { cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (body) { if (polling) { show(body); setLive("polling"); } })
      .catch(function () { if (polling) { setLive("stale"); } })
      .then(function () { if (polling && !pollTimer) { pollTimer = window.setTimeout(poll, pollMs); } });
  }
  function startPolling() {
    if (polling) { return; }
    polling = true;
    poll();
  }
  function stopPolling() {
    polling = false;
    if (pollTimer) { window.clearTimeout(pollTimer); pollTimer = null; }
  }

  // The event stream.
  var source = null;
  var silence = null;
  var retry = null;
  var connects = 0;
  function heard() {
    if (silence) { window.clearTimeout(silence); }
    silence = window.setTimeout(fallBack, SILENT_MS);
  }
  function fallBack() {
    if (source) { source.close(); source = null; }
    if (silence) { window.clearTimeout(silence); silence = null; }
    startPolling();
    if (!retry) { retry = window.setTimeout(connect, RETRY_STREAM_MS); }
  }
  function connect() {
    retry = null;
    if (!window.EventSource || !eventsUrl) { startPolling(); return; }
    if (source) { source.close(); }
    source = new window.EventSource(eventsUrl);
    source.addEventListener("open", function () {
      connects += 1;
      root.setAttribute("data-live-connects", String(connects));
      stopPolling();
      heard();
    });
    source.addEventListener("state", function (event) {
      heard();
      var state = null;
      try { state = JSON.parse(event.data); } catch (e) { return; }
      show(state);
      setLive("ok");
    });
    source.addEventListener("heartbeat", heard);
    source.addEventListener("error", function () {
      // CONNECTING: the browser reconnects by itself after the stream's retry delay.
      // CLOSED: it gave up (the answer was not an event stream): poll, and try again later.
      if (source && source.readyState === 2) { fallBack(); } else { setLive("reconnecting"); }
    });
  }
  connect();
})();
