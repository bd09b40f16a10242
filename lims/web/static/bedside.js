// Bedside: the first scan fills the wristband, the second the product, then it checks.
(function () {
  "use strict";
  var form = document.getElementById("bedside");
  var wristband = document.getElementById("wristband");
  var product = document.getElementById("product");
  window.limsScanner.onScan(function (payload) {
    if (!wristband.value) { wristband.value = payload; product.focus(); return; }
    if (!product.value) { product.value = payload; }
    if (wristband.value && product.value) { form.submit(); }
  });
})();
