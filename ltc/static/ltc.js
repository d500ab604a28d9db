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
})();
