(function () {
  "use strict";
  // Runs first, inline in <head>: a keyboard-wedge scanner types the label and Enter, fast,
  // into whatever has focus. Every key is seen here at the document level, even while the
  // page is still loading; a fast burst that ends in Enter is taken out of any field it
  // fell into and handed to the page's scan handler (queued until the page is ready).
  var PAUSE = 1500;  // ms without a key: what follows is a new burst
  var SCANNER = 35;  // ms: typical gap inside a scanner burst (people type far slower)
  var MIN_LEN = 4;
  var keys = [], queue = [], handler = null;
  function editable(el) {
    if (!el) { return false; }
    if (el.tagName === "TEXTAREA" || el.isContentEditable) { return true; }
    return el.tagName === "INPUT" &&
      !/^(button|submit|checkbox|radio|reset|image|range|color|file)$/i.test(el.type);
  }
  function scanner(burst, end) {
    // The median gap: a busy page can hold up a key or two, which must not split a scan.
    var gaps = burst.map(function (k, i) { return (i + 1 < burst.length ? burst[i + 1].t : end) - k.t; });
    gaps.sort(function (a, b) { return a - b; });
    return burst.length >= MIN_LEN && gaps[Math.floor(gaps.length / 2)] < SCANNER;
  }
  window.limsScanner = {
    listening: false,
    onScan: function (fn) {
      handler = fn;
      window.limsScanner.listening = true;
      while (queue.length) { fn(queue.shift()); }
    }
  };
  if (!document.documentElement.hasAttribute("data-scan")) { return; }  // not a scan page
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.altKey || e.metaKey || e.isComposing) { return; }
    var t = e.timeStamp, el = document.activeElement, inField = editable(el);
    if (keys.length && t - keys[keys.length - 1].t > PAUSE) { keys = []; }
    if (e.key === "Enter") {
      var burst = keys;
      keys = [];
      if (scanner(burst, t)) {
        e.preventDefault();
        e.stopImmediatePropagation();
        if (burst[0].el && burst[0].before !== null) {
          burst[0].el.value = burst[0].before;  // the burst was a scan, not typing
        }
        var payload = burst.map(function (k) { return k.c; }).join("");
        if (handler) { handler(payload); } else { queue.push(payload); }
      }
      return;
    }
    if (e.key.length === 1) {
      keys.push({ c: e.key, t: t, el: inField ? el : null,
                  before: inField && "value" in el ? el.value : null });
      // Not typing into a field: a scanned character must not press a button or pick an
      // option (a space still works for people using the keyboard).
      if (!inField && e.key !== " ") { e.preventDefault(); }
    }
  }, true);
})();
