// The family's signature on the visit form: drawn with a finger, a stylus or the mouse on
// <canvas data-signature-pad>, posted as PNG Base64 in the form's hidden field named by
// data-signature-field. A "clear" button (data-signature-clear) starts again. After a
// refused submit the page comes back with the field filled: the signature is drawn again.
(function () {
  "use strict";
  function setUp(canvas) {
    var form = canvas.closest("form");
    var field = form.querySelector("[name='" + canvas.getAttribute("data-signature-field") + "']");
    var clear = form.querySelector("[data-signature-clear]");
    var status = form.querySelector("[data-signature-status]");
    var context = canvas.getContext("2d");
    var drawing = false, drawn = false, last = null;

    function size() {
      var ratio = window.devicePixelRatio || 1;
      var width = canvas.clientWidth, height = canvas.clientHeight;
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
      context.setTransform(ratio, 0, 0, ratio, 0, 0);
      context.fillStyle = "#fff";
      context.fillRect(0, 0, width, height);
      context.lineWidth = 2.5;
      context.lineCap = "round";
      context.lineJoin = "round";
      context.strokeStyle = "#000";
    }
    function show(signed) {
      drawn = signed;
      if (status) status.textContent = signed ? "已签名" : "尚未签名";
      if (clear) clear.disabled = !signed;
    }
    function point(event) {
      var box = canvas.getBoundingClientRect();
      return {x: event.clientX - box.left, y: event.clientY - box.top};
    }
    canvas.addEventListener("pointerdown", function (event) {
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      drawing = true;
      last = point(event);
      context.beginPath();
      context.arc(last.x, last.y, 1.2, 0, 2 * Math.PI);
      context.fillStyle = "#000";
      context.fill();
      show(true);
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) return;
      event.preventDefault();
      var next = point(event);
      context.beginPath();
      context.moveTo(last.x, last.y);
      context.lineTo(next.x, next.y);
      context.stroke();
      last = next;
    });
    function stop() {
      if (!drawing) return;
      drawing = false;
      field.value = canvas.toDataURL("image/png").split(",")[1];
    }
    canvas.addEventListener("pointerup", stop);
    canvas.addEventListener("pointercancel", stop);
    if (clear) clear.addEventListener("click", function () {
      size();
      field.value = "";
      show(false);
    });
    size();
    if (field.value) {  // a signature posted before the page came back with a problem
      var image = new Image();
      image.onload = function () {
        context.drawImage(image, 0, 0, canvas.clientWidth, canvas.clientHeight);
      };
      image.src = "data:image/png;base64," + field.value;
    }
    show(Boolean(field.value));
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-signature-pad]").forEach(setUp);
  });
})();
