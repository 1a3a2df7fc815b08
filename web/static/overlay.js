/* Live scan counter for the OBS overlay: polls this registry's scans API every 2 s (and the
   endorsement's status every 30 s, so a revocation shows on stream). Same origin only. */
(function () {
  "use strict";
  var root = document.getElementById("overlay");
  if (!root) { return; }
  var counter = document.getElementById("scan-count");
  var warning = document.getElementById("status-warning");
  var scansUrl = root.getAttribute("data-scans-url");
  var statusUrl = root.getAttribute("data-status-url");
  var interval = parseInt(root.getAttribute("data-poll-ms"), 10) || 2000;
  // The warning's words for each status, in both languages, from the page (the catalogue).
  var words = document.getElementById("status-words");
  function statusWords(status) {
    var key = "data-" + status.replace(/_/g, "-");
    if (!words || !words.hasAttribute(key + "-zh")) { return null; }
    return [words.getAttribute(key + "-zh"), words.getAttribute(key + "-en")];
  }

  function getJSON(url) {
    return fetch(url, { cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      });
  }

  function showScans(total) {
    if (typeof total !== "number") { return; }
    root.setAttribute("data-scans", String(total));
    counter.textContent = total.toLocaleString("zh-CN");
  }

  function showStatus(status) {
    var label = statusWords(status);
    if (!label || status === root.getAttribute("data-status")) { return; }
    root.className = root.className.replace(/status-[a-z_]+/, "status-" + status);
    root.setAttribute("data-status", status);
    warning.hidden = status === "valid";
    warning.textContent = label[0];
    var en = document.createElement("span");
    en.lang = "en";
    en.textContent = label[1];
    warning.appendChild(en);
  }

  function pollScans() {
    getJSON(scansUrl)
      .then(function (body) { showScans(body.total); root.setAttribute("data-live", "ok"); })
      .catch(function () { root.setAttribute("data-live", "stale"); })
      .then(function () { window.setTimeout(pollScans, interval); });
  }

  function pollStatus() {
    getJSON(statusUrl)
      .then(function (body) { showStatus(body.status); })
      .catch(function () { /* keep what is shown; the next poll retries */ })
      .then(function () { window.setTimeout(pollStatus, 30000); });
  }

  pollScans();
  window.setTimeout(pollStatus, 30000);
})();
