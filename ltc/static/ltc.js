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
  // Irreversible actions ask first: <form data-confirm="确定吊销该令牌吗？">.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();
