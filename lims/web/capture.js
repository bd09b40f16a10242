(function () {
  "use strict";
  // Runs first, inline in <head>: a keyboard-wedge scanner types the label and Enter, fast,
  // into whatever has focus. Every key is seen here at the document level, even while the
  // page is still loading; a fast burst that ends in Enter is taken out of any field it
  // fell into and handed to the page's scan handler (queued until the page is ready).
  var HICCUP = 250;  // ms: a longer pause starts a new burst
  var SCANNER = 35;  // ms: mean gap of a scanner burst (people type far slower)
  var MIN_LEN = 4;
  var keys = [], queue = [], handler = null;
  function editable(el) {
    if (!el) { return false; }
    if (el.tagName === "TEXTAREA" || el.isContentEditable) { return true; }
    return el.tagName === "INPUT" &&
      !/^(button|submit|checkbox|radio|reset|image|range|color|file)$/i.test(el.type);
  }
  function deliver(payload) {
    if (handler) { handler(payload); } else { queue.push(payload); }
  }
  window.limsScanner = {
    onScan: function (fn) {
      handler = fn;
      while (queue.length) { fn(queue.shift()); }
    }
  };
  if (!document.documentElement.hasAttribute("data-scan")) { return; }  // not a scan page
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.altKey || e.metaKey || e.isComposing) { return; }
    var t = e.timeStamp, el = document.activeElement, inField = editable(el);
    if (keys.length && t - keys[keys.length - 1].t > HICCUP) { keys = []; }
    if (e.key === "Enter") {
      var n = keys.length;
      var fast = n >= MIN_LEN && (t - keys[0].t) / n < SCANNER;
      if (fast) {
        e.preventDefault();
        e.stopImmediatePropagation();
        var first = keys[0];
        if (first.el && editable(first.el) && first.before !== null) {
          first.el.value = first.before;  // the burst was a scan, not typing
        }
        var payload = keys.map(function (k) { return k.c; }).join("");
        keys = [];
        deliver(payload);
        return;
      }
      keys = [];
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
