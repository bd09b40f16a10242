// Shared by the scan pages: post a form to lims with the page's CSRF token.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf"]').getAttribute("content");
  window.lims = {
    post: function (url, data) {
      if (!data.has("csrf")) { data.append("csrf", csrf); }
      return fetch(url, { method: "POST", body: data, credentials: "same-origin",
                          headers: { "X-Requested-With": "fetch" } })
        .then(function (r) {
          if (r.status === 401) { window.location.href = "/signin?next=" + encodeURIComponent(location.pathname + location.search); }
          return r.text().then(function (text) { return { ok: r.ok, status: r.status, text: text }; });
        });
    }
  };
})();
