// Live dashboard: the server says when anything changed (server-sent events, from any
// server process); the numbers are then fetched again, without reloading the page.
(function () {
  "use strict";
  var dash = document.getElementById("dash");
  var live = document.getElementById("live");
  var query = dash.getAttribute("data-query");
  var suffix = query ? "?" + query : "";
  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch("/dashboard/fragment" + suffix, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { dash.innerHTML = html; live.textContent = "Live: updated " + new Date().toLocaleTimeString(); })
      .catch(function () { live.textContent = "Live updates paused: reload the page."; })
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }
  if (!window.EventSource) { live.textContent = "This browser cannot update live: reload to refresh."; return; }
  var source = new EventSource("/dashboard/stream" + suffix);
  source.addEventListener("change", refresh);
  source.addEventListener("hello", function () { live.textContent = "Live: updates by itself."; });
  source.onerror = function () { live.textContent = "Live: reconnecting …"; };
})();
