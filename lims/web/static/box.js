// Box mode: every scan adds a tube (looked up at once); one event is applied to all.
(function () {
  "use strict";
  var root = document.getElementById("box");
  var station = root.getAttribute("data-station");
  var tubes = document.getElementById("tubes");
  var payloads = document.getElementById("payloads");
  var eventSelect = document.getElementById("event");
  var chain = Promise.resolve();

  function number() {
    Array.prototype.forEach.call(tubes.querySelectorAll("td.n"), function (td, i) { td.textContent = String(i + 1); });
  }
  function add(payload) {
    chain = chain.then(function () {
      var input = document.createElement("input");
      input.type = "hidden"; input.name = "payloads"; input.value = payload;
      payloads.appendChild(input);
      var data = new FormData();
      data.append("payload", payload);
      data.append("station", station);
      return window.lims.post("/bench/box/check", data).then(function (r) {
        tubes.insertAdjacentHTML("beforeend", r.text);
        number();
      });
    });
  }
  window.limsScanner.onScan(add);
  document.getElementById("lookup").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = document.getElementById("manual");
    if (input.value.trim()) { add(input.value.trim()); input.value = ""; }
  });
  document.getElementById("restart").addEventListener("click", function () {
    window.location.reload();
  });
  eventSelect.addEventListener("change", function () {
    Array.prototype.forEach.call(document.querySelectorAll("fieldset.box-event"), function (fs) {
      var on = fs.getAttribute("data-event") === eventSelect.value;
      fs.hidden = !on; fs.disabled = !on;
    });
  });
  document.getElementById("apply").addEventListener("submit", function (e) {
    e.preventDefault();
    var form = e.target;
    var data = new FormData(form);
    chain = chain.then(function () {
      return window.lims.post("/bench/box/apply", data).then(function (r) {
        document.getElementById("box-results").innerHTML = r.text;
      });
    });
  });
})();
