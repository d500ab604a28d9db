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
