// Idle lock on the client (画面ロック): after the configured idle time, cover the page so no
// personal data stays on screen, then go to the lock page. The server locks the session on its
// own as well; while the person is active, a ping every third of the period keeps it open.
(function () {
  "use strict";
  var body = document.body;
  var seconds = parseInt(body.getAttribute("data-idle-seconds") || "0", 10);
  if (!seconds || seconds <= 0) { return; }
  var lockUrl = body.getAttribute("data-lock-url") || "/lock/";
  var pingUrl = body.getAttribute("data-ping-url");
  var tokenMeta = document.querySelector('meta[name="csrf-token"]');
  var token = tokenMeta ? tokenMeta.getAttribute("content") : "";
  var lastActivity = Date.now();
  var lastPing = Date.now();
  var locked = false;

  function lockNow() {
    if (locked) { return; }
    locked = true;
    var cover = document.getElementById("idle-cover");
    if (cover) { cover.hidden = false; cover.setAttribute("aria-hidden", "false"); }
    document.getElementById("main") && document.getElementById("main").setAttribute("aria-hidden", "true");
    var here = window.location.pathname + window.location.search;
    window.location.assign(lockUrl + "?next=" + encodeURIComponent(here));
  }

  function ping() {
    if (!pingUrl || !window.fetch) { return; }
    lastPing = Date.now();
    fetch(pingUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": token, "X-Requested-With": "fetch" }
    }).then(function (r) {
      if (r.status === 409 || r.status === 401 || r.redirected) { lockNow(); }
    }).catch(function () { /* offline: the server-side lock still applies */ });
  }

  function activity() {
    if (locked) { return; }
    lastActivity = Date.now();
    if (Date.now() - lastPing > seconds * 1000 / 3) { ping(); }
  }

  ["keydown", "mousedown", "mousemove", "wheel", "touchstart", "input"].forEach(function (ev) {
    document.addEventListener(ev, activity, { passive: true, capture: true });
  });

  window.setInterval(function () {
    if (!locked && Date.now() - lastActivity >= seconds * 1000) { lockNow(); }
  }, 500);
})();
