/* Back-office conveniences; every page works without this file.
   - "Add a row" on repeated groups (substances of an inspection, temperature readings,
     input batches): clones the last row with the next index, emptied.
   - "Print" on the label sheet. */
(function () {
  "use strict";

  function renumber(row, index) {
    row.setAttribute("data-row", String(index));
    var number = row.querySelector(".row-number");
    if (number) { number.textContent = String(index + 1); }
    var fields = row.querySelectorAll("input, select, textarea, label");
    Array.prototype.forEach.call(fields, function (el) {
      ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
        var value = el.getAttribute(attr);
        if (value) { el.setAttribute(attr, value.replace(/\.\d+\./, "." + index + ".")); }
      });
      if (el.tagName === "INPUT" || el.tagName === "TEXTAREA") { el.value = ""; }
      if (el.tagName === "SELECT") { el.selectedIndex = 0; }
      el.removeAttribute("aria-invalid");
    });
    Array.prototype.forEach.call(row.querySelectorAll(".field-error"), function (el) {
      el.parentNode.removeChild(el);
    });
    Array.prototype.forEach.call(row.querySelectorAll(".invalid"), function (el) {
      el.classList.remove("invalid");
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-add-row]"), function (button) {
    var group = button.closest("[data-rows]");
    var list = group && group.querySelector("[data-row-list]");
    if (!list) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var rows = list.querySelectorAll("[data-row]");
      if (rows.length >= 200) { return; }
      var copy = rows[rows.length - 1].cloneNode(true);
      renumber(copy, rows.length);
      list.appendChild(copy);
      var first = copy.querySelector("input, select, textarea");
      if (first) { first.focus(); }
    });
  });

  Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
