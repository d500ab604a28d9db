// Evidence upload: each chosen file goes up resumably over tus (tus-js-client, vendored in
// /static) to /api/v1/uploads, with a progress bar, pause and resume, one file after another.
// A dropped connection is retried from the last byte the server has; after the browser was
// closed, choosing the same file again continues it (tus-js-client keeps the upload's URL in
// localStorage). A video recorded on the spot (the capture input) starts at once, while the
// assessor goes on with the form. Without JavaScript (or tus support) the same form posts
// multipart to the page route instead. Forms: <form data-evidence-upload data-tus-url="…"
// data-assessment-id="…" data-max-size="…"> in templates/evidence/_upload.html.
(function () {
  "use strict";

  var ALLOWED = {
    "video/mp4": "video", "video/quicktime": "video", "video/webm": "video",
    "image/jpeg": "photo", "image/png": "photo"
  };
  // Some systems give no type (or a generic one) for .mov and friends: go by the extension.
  var BY_EXTENSION = {
    mp4: "video/mp4", m4v: "video/mp4", mov: "video/quicktime", webm: "video/webm",
    jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png"
  };
  var NOT_ALLOWED = "只能上传 MP4、MOV、WebM 视频或 JPEG、PNG 照片";

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)ltc_csrf=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function typeOf(file) {
    if (ALLOWED[file.type]) return file.type;
    var extension = (file.name.split(".").pop() || "").toLowerCase();
    return BY_EXTENSION[extension] || null;
  }

  function sizeLabel(bytes) {
    if (bytes >= 1073741824) return (bytes / 1073741824).toFixed(2) + " GB";
    if (bytes >= 1048576) return (bytes / 1048576).toFixed(1) + " MB";
    return Math.ceil(bytes / 1024) + " KB";
  }

  function two(n) { return (n < 10 ? "0" : "") + n; }

  // Like the duration macro of templates/evidence/_upload.html.
  function durationLabel(seconds) {
    if (seconds === null || seconds === undefined) return "时长未知";
    var s = Math.round(seconds);
    return "时长 " + (s >= 3600 ? Math.floor(s / 3600) + "小时" : "") +
      Math.floor(s % 3600 / 60) + "分" + two(s % 60) + "秒";
  }

  // Like the server's local_time filter: Beijing civil time, whatever the device's zone.
  function localTime(iso) {
    var d = new Date(iso);
    try {
      var parts = {};
      new Intl.DateTimeFormat("en-CA", {
        timeZone: "Asia/Shanghai", hourCycle: "h23", year: "numeric", month: "2-digit",
        day: "2-digit", hour: "2-digit", minute: "2-digit"
      }).formatToParts(d).forEach(function (p) { parts[p.type] = p.value; });
      return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" +
        parts.minute;
    } catch (ignored) {
      return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " +
        two(d.getHours()) + ":" + two(d.getMinutes());
    }
  }

  function errorMessage(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && body.error && body.error.message) return body.error.message;
    } catch (ignored) { /* not JSON: fall through */ }
    if (xhr.status === 0) return "网络中断，文件没有上传完成。请检查网络后重新上传。";
    if (xhr.status === 401) return "登录已过期，请刷新页面重新登录后再上传。";
    if (xhr.status === 413) return "文件太大，单个文件不能超过 2 GB。";
    return "上传失败（状态 " + xhr.status + "），请稍后重试。";
  }

  function recordedAt(form, file) {
    var input = form.querySelector("input[name=recorded_at]");
    // datetime-local is the tablet's civil time; Date() reads it in the same zone.
    if (input && input.value) return new Date(input.value).toISOString();
    if (file.lastModified && file.lastModified <= Date.now()) {
      return new Date(file.lastModified).toISOString();
    }
    return null;
  }

  function addToList(form, row) {
    var section = form.closest("section") || document;
    var list = section.querySelector("[data-evidence-list]");
    var empty = section.querySelector("[data-evidence-empty]");
    if (empty) empty.remove();
    if (!list) return;
    var li = document.createElement("li");
    var link = document.createElement("a");
    link.className = "button";
    link.href = row.url;
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = row.kind === "video" ? "▶ 播放" : "查看照片";
    var name = document.createElement("span");
    name.className = "name";
    name.textContent = row.original_name;
    var meta = document.createElement("span");
    meta.className = "muted";
    meta.textContent = (row.kind === "video" ? "视频" : "照片") + " · " + sizeLabel(row.size) +
      (row.kind === "video" ? " · " + durationLabel(row.duration_seconds) : "") +
      (row.recorded_at ? " · 录制于 " + localTime(row.recorded_at) : "") +
      " · 上传于 " + localTime(row.uploaded_at) + "（" + row.uploaded_by + "）";
    li.appendChild(link);
    li.appendChild(document.createTextNode(" "));
    li.appendChild(name);
    li.appendChild(document.createTextNode(" "));
    li.appendChild(meta);
    list.appendChild(li);
  }

  var current = null;

  function fingerprintFor(form) {
    // The default fingerprint is the file and the endpoint: the same video chosen for another
    // assessment must not continue this one's upload.
    return function (file) {
      return Promise.resolve(["ltc-evidence", form.getAttribute("data-assessment-id"), file.name,
        file.type, file.size, file.lastModified].join("-"));
    };
  }

  function tusError(error) {
    var response = error && error.originalResponse;
    if (response) {
      return errorMessage({ status: response.getStatus(), responseText: response.getBody() });
    }
    return errorMessage({ status: 0, responseText: "" });
  }

  function send(form, file, type, onProgress) {
    return new Promise(function (resolve, reject) {
      var metadata = {
        assessment_id: form.getAttribute("data-assessment-id"), filename: file.name,
        filetype: type
      };
      var when = recordedAt(form, file);
      if (when) metadata.recorded_at = when;
      var upload = new window.tus.Upload(file, {
        endpoint: form.getAttribute("data-tus-url"),
        // Bytes per PATCH (the form's data-chunk-size, 64 MiB): long enough for full speed,
        // short enough that a proxy's timeout costs little; a PATCH cut short keeps its bytes.
        chunkSize: parseInt(form.getAttribute("data-chunk-size"), 10),
        retryDelays: [0, 1000, 3000, 5000, 10000, 20000, 30000, 60000],
        metadata: metadata,
        headers: { "x-csrftoken": csrfToken(), "Accept": "application/json" },
        fingerprint: fingerprintFor(form),
        removeFingerprintOnSuccess: true,
        onProgress: onProgress,
        onSuccess: function (payload) {
          var response = payload && payload.lastResponse;
          var id = response && response.getHeader("Evidence-Id");
          var duplicate = response && response.getHeader("Evidence-Created") === "0";
          current = null;
          fetch(form.getAttribute("data-list-url"), { headers: { "Accept": "application/json" },
                                                     credentials: "same-origin" })
            .then(function (r) { return r.json(); })
            .then(function (rows) {
              var row = rows.filter(function (r) { return String(r.id) === id; })[0];
              resolve({ row: row, duplicate: duplicate });
            }, function () { resolve({ row: null, duplicate: duplicate }); });
        },
        onError: function (error) { current = null; reject(new Error(tusError(error))); }
      });
      current = upload;
      upload.findPreviousUploads().then(function (previous) {
        if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
        upload.start();
      });
    });
  }

  // Uploads left unfinished when the page (or the browser) was closed: named, so the
  // assessor chooses the same file again and it continues where it stopped.
  function showUnfinished(form) {
    var note = form.querySelector("[data-upload-unfinished]");
    if (!note || !window.tus || !window.tus.defaultOptions.urlStorage) return;
    var prefix = "ltc-evidence-" + form.getAttribute("data-assessment-id") + "-";
    window.tus.defaultOptions.urlStorage.findAllUploads().then(function (uploads) {
      var names = uploads.filter(function (u) {
        return u.urlStorageKey && u.urlStorageKey.indexOf("tus::" + prefix) === 0;
      }).map(function (u) { return "「" + (u.metadata && u.metadata.filename) + "」"; });
      if (names.length) {
        note.textContent = "有未完成的上传：" + names.join("、") +
          "。请重新选择同一文件，将从中断处继续上传。";
        note.hidden = false;
      }
    });
  }

  var busy = false;
  window.addEventListener("beforeunload", function (event) {
    if (!busy) return;
    event.preventDefault();
    event.returnValue = "视频还在上传，离开页面会中断上传。";
  });

  function supported() {
    return window.XMLHttpRequest && window.Promise && window.tus && window.tus.isSupported;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-upload-pause]");
    if (!button || !current) return;
    if (button.getAttribute("data-paused") === "1") {
      button.setAttribute("data-paused", "0");
      button.textContent = "暂停";
      current.start();
    } else {
      button.setAttribute("data-paused", "1");
      button.textContent = "继续上传";
      current.abort(); // keeps the upload: start() continues from the server's offset
    }
  });

  // A video just recorded (or picked) on site goes up at once, in the background.
  document.addEventListener("change", function (event) {
    var input = event.target.closest("input[data-capture]");
    if (!input || !supported() || !input.files || !input.files.length) return;
    var form = input.closest("form[data-evidence-upload]");
    if (form && !busy) form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(
      new Event("submit", { cancelable: true, bubbles: true }));
  });

  document.querySelectorAll("form[data-evidence-upload]").forEach(showUnfinished);

  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-evidence-upload]");
    if (!form || !supported()) return; // plain form post
    event.preventDefault();
    if (busy) return;
    var inputs = Array.prototype.slice.call(form.querySelectorAll("input[type=file]"));
    var input = inputs.filter(function (i) { return i.files && i.files.length; })[0] ||
      inputs[0];
    var pause = form.querySelector("[data-upload-pause]");
    var progress = form.querySelector("[data-upload-progress]");
    var status = form.querySelector("[data-upload-status]");
    var error = form.querySelector("[data-upload-error]");
    var button = form.querySelector("[data-upload-button]");
    var maxSize = parseInt(form.getAttribute("data-max-size"), 10);
    var files = Array.prototype.slice.call(input.files || []);
    error.textContent = "";
    if (!files.length) {
      error.textContent = "请先选择要上传的视频或照片。";
      return;
    }
    var problems = [];
    var notes = [];
    var done = 0;
    busy = true;
    button.disabled = true;

    function next(index) {
      if (index >= files.length) {
        busy = false;
        button.disabled = false;
        progress.hidden = true;
        pause.hidden = true;
        input.value = "";
        status.textContent = (done ? "已上传 " + done + " 个文件。" : "") + notes.join(" ");
        error.textContent = problems.join(" ");
        return;
      }
      var file = files[index];
      var prefix = files.length > 1 ? "（" + (index + 1) + "/" + files.length + "）" : "";
      var type = typeOf(file);
      if (!type) {
        problems.push("「" + file.name + "」：" + NOT_ALLOWED + "。");
        next(index + 1);
        return;
      }
      if (file.size > maxSize) {
        problems.push("「" + file.name + "」：文件超过 2 GB，请分段录制后分别上传。");
        next(index + 1);
        return;
      }
      progress.hidden = false;
      progress.value = 0;
      pause.hidden = false;
      pause.setAttribute("data-paused", "0");
      pause.textContent = "暂停";
      status.textContent = prefix + "正在上传「" + file.name + "」…";
      send(form, file, type, function (loaded, total) {
        var percent = Math.floor(loaded * 100 / total);
        progress.value = percent;
        status.textContent = prefix + "正在上传「" + file.name + "」：" + percent + "%（" +
          sizeLabel(loaded) + " / " + sizeLabel(total) + "）";
      }).then(function (result) {
        if (result.duplicate) {
          notes.push("「" + file.name + "」之前已上传过，未重复保存。");
        } else {
          if (result.row) addToList(form, result.row);
          done += 1;
        }
        next(index + 1);
      }, function (failure) {
        problems.push("「" + file.name + "」上传失败：" + failure.message);
        next(index + 1);
      });
    }

    next(0);
  });
})();
