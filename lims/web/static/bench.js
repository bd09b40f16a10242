// The bench: scans arrive from the capture script in <head> (never lost, queued while the
// page loads); each scan shows the card; event forms post with their idempotency key.
(function () {
  "use strict";
  var bench = document.getElementById("bench");
  var station = bench.getAttribute("data-station");
  var ws = document.getElementById("workspace");
  var chain = Promise.resolve();  // one request at a time, in scan order

  function show(html) {
    ws.innerHTML = html;
    var title = document.getElementById("card-title");
    if (title) { title.focus({ preventScroll: true }); }
  }
  function status(text) {
    var s = document.getElementById("status");
    if (s) { s.innerHTML = ""; var p = document.createElement("p"); p.className = "busy"; p.textContent = text; s.appendChild(p); }
  }
  function scan(payload) {
    chain = chain.then(function () {
      status("Looking up " + payload + " …");
      var data = new FormData();
      data.append("payload", payload);
      data.append("station", station);
      return window.lims.post("/bench/scan", data).then(function (r) { show(r.text); });
    }).catch(function () { status("The server did not answer: scan again."); });
  }
  window.limsScanner.onScan(scan);

  document.getElementById("lookup").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = document.getElementById("manual");
    if (input.value.trim()) { scan(input.value.trim()); input.value = ""; }
  });
  document.getElementById("clear").addEventListener("click", function () {
    chain = chain.then(function () {
      var card = document.getElementById("card");
      if (card) { card.remove(); }
      var err = ws.querySelector(".refusal");
      if (err) { err.remove(); }
    });
  });
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.classList.contains("act")) { return; }
    e.preventDefault();
    var data = new FormData(form);
    chain = chain.then(function () {
      status("Working …");
      return window.lims.post(form.getAttribute("action"), data).then(function (r) {
        if (r.ok) { show(r.text); return; }
        var s = document.getElementById("status");
        if (s) { s.innerHTML = r.text; s.querySelector("[role=alert]") && s.scrollIntoView({ block: "nearest" }); }
      });
    }).catch(function () { status("The server did not answer: nothing was changed twice; try again."); });
  });
})();
