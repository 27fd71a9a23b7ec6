// SIPAS staff workspace: small enhancements; every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // The invitation sheet's print button (hidden without JavaScript: use the browser's Print).
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
  // The keying screen: each digit moves to the next item; items the form skips (by an earlier
  // answer) are switched off; the code moves on once complete. Without this file the clerk
  // uses Tab and the server applies the same rules.
  var keying = document.getElementById("keying");
  if (keying) { keyingScreen(keying); }
  // Monitoring refreshes itself every 30 s while the tab is visible.
  var live = document.getElementById("live");
  if (!live || !live.dataset.refresh) { return; }
  setInterval(function () {
    if (document.hidden) { return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (text) {
        if (!text) { return; }
        var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("live");
        if (fresh) { live.innerHTML = fresh.innerHTML; }
      })
      .catch(function () { /* offline for a moment: the next tick tries again */ });
  }, 30000);
});

function keyingScreen(form) {
  var items = Array.prototype.slice.call(form.querySelectorAll("input[data-values]"));
  var byName = {};
  items.forEach(function (input) { byName[input.name] = input; });
  function relevant(input) {
    var item = input.dataset.showItem;
    if (!item) { return true; }
    var source = byName[item];
    if (!source || source.disabled) { return false; }
    return (input.dataset.showValues || "").split(" ").indexOf(source.value) >= 0;
  }
  function applyRules() {
    items.forEach(function (input) {
      var on = relevant(input);
      input.disabled = !on;
      if (!on) { input.value = ""; }
      input.closest("li").classList.toggle("skipped", !on);
    });
  }
  function next(from) {
    for (var i = items.indexOf(from) + 1; i < items.length; i++) {
      if (!items[i].disabled) { return items[i]; }
    }
    return form.querySelector("button[type=submit]");
  }
  items.forEach(function (input) {
    input.addEventListener("input", function () {
      var value = input.value.trim();
      var allowed = (input.dataset.values || "").split(" ");
      var complete = allowed.indexOf(value) >= 0 &&
        !allowed.some(function (v) { return v !== value && v.indexOf(value) === 0; });
      input.setAttribute("aria-invalid", value !== "" && !allowed.some(function (v) {
        return v.indexOf(value) === 0;
      }) ? "true" : "false");
      applyRules();
      if (complete) { next(input).focus(); }
      else if (input.getAttribute("aria-invalid") === "true") { input.select(); }
    });
  });
  var code = document.getElementById("code");
  if (code) {
    code.addEventListener("input", function () {
      var symbols = code.value.replace(/[\s-]/g, "");
      if (symbols.length === Number(code.dataset.codeLength || 17)) {
        var first = items.filter(function (i) { return !i.disabled; })[0];
        if (first) { first.focus(); }
      }
    });
  }
  applyRules();
}
