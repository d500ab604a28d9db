// Large-font switch: remembered on this device, for village clinic staff and older relatives.
(function () {
  var root = document.documentElement;
  if (localStorage.getItem("ltc-large-font") === "1") root.classList.add("large-font");
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-font-toggle]");
    if (!button) return;
    var on = root.classList.toggle("large-font");
    localStorage.setItem("ltc-large-font", on ? "1" : "0");
  });
  // "获取当前位置": fill the coordinate fields from the tablet's GPS, if it allows.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-locate]");
    if (!button || !navigator.geolocation) return;
    button.textContent = "正在定位…";
    navigator.geolocation.getCurrentPosition(function (position) {
      document.getElementById("latitude").value = position.coords.latitude.toFixed(6);
      document.getElementById("longitude").value = position.coords.longitude.toFixed(6);
      button.textContent = "已获取当前位置";
    }, function () { button.textContent = "无法定位，请手工填写或跳过"; });
  });
  // A button that ends editing asks first: <button data-confirm-click="…">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm-click]");
    if (button && !window.confirm(button.getAttribute("data-confirm-click"))) {
      event.preventDefault();
    }
  });
  // Signing out on a shared phone: the field pages' copy of the worklist (names, addresses)
  // and the cached /field page leave with the session (ltc/static/field.js), when signing
  // out and again on the sign-in page (a page still open may write its copy meanwhile).
  // Records still waiting to be sent stay: they are sent when their author signs in again.
  function forgetFieldCopy() {
    var work = [];
    if (window.caches) {
      work.push(caches.keys().then(function (names) {
        return Promise.all(names.filter(function (name) {
          return name.indexOf("ltc-field-") === 0;
        }).map(function (name) {
          return caches.open(name).then(function (cache) { return cache.delete("/field"); });
        }));
      }));
    }
    if (window.indexedDB) {
      work.push(new Promise(function (resolve) {
        var request = indexedDB.open("ltc-field", 1);
        // No field database on this device: do not create an empty one.
        request.onupgradeneeded = function () { request.transaction.abort(); };
        request.onerror = function () { resolve(); };
        request.onsuccess = function () {
          var database = request.result, done = function () { database.close(); resolve(); };
          var clearing = database.transaction("worklists", "readwrite");
          clearing.objectStore("worklists").clear();
          clearing.oncomplete = done;
          clearing.onerror = done;
        };
      }));
    }
    return Promise.all(work);
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (document.querySelector("[data-forget-field]")) forgetFieldCopy();
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-sign-out")) return;
    event.preventDefault();
    var sent = false;
    var submit = function () { if (!sent) { sent = true; form.submit(); } };
    forgetFieldCopy().then(submit, submit);
    setTimeout(submit, 2000);  // never keep anyone from signing out
  });
  // Irreversible actions ask first: <form data-confirm="确定吊销该令牌吗？">.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });
  // A form whose request takes a while says so at once: <form data-busy="正在试算…">.
  document.addEventListener("submit", function (event) {
    var form = event.target, message = form.getAttribute("data-busy");
    if (!message || event.defaultPrevented) return;
    form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (b) {
      b.setAttribute("data-busy-was", b.textContent);
      b.textContent = message;
    });
  });
  // Back to a page kept in the browser's cache: its buttons say what they do again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("[data-busy-was]").forEach(function (b) {
      b.textContent = b.getAttribute("data-busy-was");
      b.removeAttribute("data-busy-was");
    });
  });
  // Long work shows its own progress: while the page holds a marker <… data-poll> (a
  // payout being computed, a PDF being made), it is fetched again every few seconds and,
  // once the new copy has no marker, its content replaces this one's. The marker keeps a
  // plain 刷新 link for when scripts or the network fail. The wait grows from 3 to 30
  // seconds, so a page left open on work that stalled does not keep the server busy.
  var pollSeconds = 2;
  function poll() {
    if (!document.querySelector("[data-poll]")) return;
    pollSeconds = Math.min(30, Math.ceil(pollSeconds * 1.5));
    window.setTimeout(function () {
      // X-LTC-Poll: the server skips the navigation badges, which this never swaps in.
      fetch(window.location.href, { credentials: "same-origin", cache: "no-store",
                                    headers: { "X-LTC-Poll": "1" } })
        .then(function (response) {
          if (!response.ok) throw new Error(response.status);
          return response.text();
        })
        .then(function (html) {
          var next = new DOMParser().parseFromString(html, "text/html");
          var main = document.querySelector("main"), nextMain = next.querySelector("main");
          if (!nextMain) throw new Error("no main");
          var stillPending = nextMain.querySelector("[data-poll]");
          var marker = document.querySelector("[data-poll]");
          if (stillPending && marker) {
            marker.innerHTML = stillPending.innerHTML;  // e.g. the minutes so far
          } else {
            main.replaceWith(nextMain);
            document.title = next.title;
            if (window.htmx) window.htmx.process(nextMain);
          }
          poll();
        })
        .catch(poll);
    }, pollSeconds * 1000);
  }
  document.addEventListener("DOMContentLoaded", poll);
})();
