(function () {
  "use strict";
  var form = document.getElementById("filters");
  var table = document.getElementById("runs");
  var shown = document.getElementById("shown");
  if (!form || !table || !shown) { return; }
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var severities = ["info", "low", "medium", "high", "critical"];
  var names = ["schedule", "result", "from", "to", "host", "severity", "control"].filter(
    function (name) { return Boolean(form.elements[name]); });
  function listOf(row, attribute) {
    try { return JSON.parse(row.getAttribute(attribute) || "[]"); } catch (e) { return []; }
  }
  function value(name) {
    var field = form.elements[name];
    return field ? (field.value || "").trim() : "";
  }
  function contains(list, text) {
    return list.some(function (item) { return String(item).toLowerCase().indexOf(text) !== -1; });
  }
  function severe(row, least) {
    return severities.indexOf(row.getAttribute("data-severity") || "") >= severities.indexOf(least);
  }
  function apply() {
    var schedule = value("schedule"), result = value("result");
    var from = value("from"), to = value("to"), host = value("host").toLowerCase();
    var severity = value("severity"), control = value("control").toLowerCase();
    var count = 0;
    rows.forEach(function (row) {
      var date = row.getAttribute("data-date") || "";
      var ok = (!schedule || row.getAttribute("data-schedule") === schedule) &&
        (!result || row.getAttribute("data-result") === result) &&
        (!from || date >= from) && (!to || date <= to) &&
        (!host || contains(listOf(row, "data-hosts"), host)) &&
        (!severity || severe(row, severity)) &&
        (!control || contains(listOf(row, "data-controls"), control));
      row.hidden = !ok;
      if (ok) { count += 1; }
    });
    shown.textContent = count + " of " + rows.length + " runs shown";
  }
  var params = new URLSearchParams(window.location.search);
  names.forEach(function (name) {
    var given = params.get(name);
    if (given !== null) { form.elements[name].value = given; }
  });
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("reset", function () { window.setTimeout(apply, 0); });
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  apply();
  document.documentElement.setAttribute("data-filters", "ready");
})();
