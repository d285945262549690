// authtap HTML report behaviour: expand/collapse, diagram arrows open their exchange, summary
// line from the embedded data. No network access; the CSP allows only this script.
(function () {
  'use strict';
  var dataEl = document.getElementById('authtap-data');
  var data = dataEl ? JSON.parse(dataEl.textContent) : { exchanges: [], findings: [] };
  var all = function () { return document.querySelectorAll('details.exchange'); };
  function setAll(open) { all().forEach(function (d) { d.open = open; }); }
  document.getElementById('expand-all').addEventListener('click', function () { setAll(true); });
  document.getElementById('collapse-all').addEventListener('click', function () { setAll(false); });
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id && document.getElementById(id);
    if (el && el.tagName === 'DETAILS') { el.open = true; }
  }
  window.addEventListener('hashchange', openTarget);
  openTarget();
  document.querySelectorAll('#sequence .arrow').forEach(function (g) {
    g.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter') { location.hash = 'x' + g.getAttribute('data-exchange'); }
    });
  });
  var errors = data.findings.filter(function (f) { return f.severity === 'error'; }).length;
  var line = document.getElementById('summary-line');
  line.textContent = data.exchanges.length + ' exchanges · ' + data.findings.length +
    ' findings (' + errors + ' errors) · ' + (data.redacted ? 'redacted' : 'NOT redacted');
  document.body.setAttribute('data-rendered', 'true');
})();
