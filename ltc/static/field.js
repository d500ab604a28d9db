// The field pages (/field, ltc/desk/field.py): the signed-in user's worklist kept in
// IndexedDB, the visit form and the 17-item assessment form rendered from it, and a queue
// of what was entered offline. Each record keeps the UUID the device made for it and is
// sent through the idempotent APIs when the network returns (the `online` event, and on
// load); it leaves the queue only once the server has answered, so a re-send after a lost
// answer is a replay, never a second record. Plain JS: no framework, nothing from outside.
(function () {
  "use strict";
  var root, user, role, database, worklist = null, syncing = false, sendAgain = false;

  // --- IndexedDB ---------------------------------------------------------------------------

  function openDatabase() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open("ltc-field", 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore("worklists", { keyPath: "user_id" });
        request.result.createObjectStore("records", { keyPath: "uuid" });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function store(name, mode, work) {
    return new Promise(function (resolve, reject) {
      var transaction = database.transaction(name, mode);
      var result = work(transaction.objectStore(name));
      transaction.oncomplete = function () { resolve(result && result.result); };
      transaction.onerror = function () { reject(transaction.error); };
    });
  }

  function put(name, value) { return store(name, "readwrite", function (s) { s.put(value); }); }
  function remove(name, key) { return store(name, "readwrite", function (s) { s.delete(key); }); }

  function records() {
    return store("records", "readonly", function (s) { return s.getAll(); }).then(
      function (all) {
        return all.filter(function (r) { return r.user === user; }).sort(function (a, b) {
          return a.created < b.created ? -1 : 1;
        });
      });
  }

  // --- small helpers -----------------------------------------------------------------------

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) {
      if (key === "text") node.textContent = attributes[key];
      else node.setAttribute(key, attributes[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function find(selector) { return root.querySelector(selector); }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)ltc_csrf=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) {
      return (b + 0x100).toString(16).slice(1);
    }).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20),
            hex.slice(20)].join("-");
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function localInput(date) {  // a datetime-local value in the device's time
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      "T" + pad(date.getHours()) + ":" + pad(date.getMinutes());
  }

  function withZone(value) {  // a datetime-local value as ISO 8601 with the device's zone
    var date = new Date(value), offset = -date.getTimezoneOffset();
    var sign = offset >= 0 ? "+" : "-", abs = Math.abs(offset);
    return value + ":00" + sign + pad(Math.floor(abs / 60)) + ":" + pad(abs % 60);
  }

  // --- the status line ---------------------------------------------------------------------

  function showNetwork() {
    find("[data-network]").textContent = navigator.onLine ? "已联网" : "无网络（离线工作中）";
    root.classList.toggle("offline", !navigator.onLine);
  }

  var VERDICTS = {
    waiting: "待上传", sent: "已上传", flagged: "已上传但被标记：", error: "错误："
  };

  function showRecords() {
    return records().then(function (all) {
      var waiting = all.filter(function (r) { return r.state === "waiting"; }).length;
      find("[data-waiting]").textContent = "待上传 " + waiting + " 条";
      var list = find("[data-records]");
      list.innerHTML = "";
      if (!all.length) list.appendChild(el("li", { class: "muted", text: "本机还没有记录。" }));
      all.slice().reverse().forEach(function (r) {
        list.appendChild(el("li", { class: "field-record " + r.state, "data-state": r.state }, [
          el("b", { text: r.title }),
          el("span", { class: "verdict", text: VERDICTS[r.state] + (r.message || "") }),
          // The other assessor saved the form meanwhile: the server kept theirs; this
          // device's scores go only when the user chooses so.
          r.kind === "draft" && r.code === "stale_write" ? el("button", {
            type: "button", class: "secondary", "data-resend": r.uuid,
            text: "以本机评分覆盖并重新上传" }) : null
        ]));
      });
    });
  }

  // --- the worklist ------------------------------------------------------------------------

  function loadWorklist() {
    return store("worklists", "readonly", function (s) { return s.get(user); })
      .then(function (kept) {
        if (kept) { worklist = kept; showWorklist(); }
        if (!navigator.onLine) {
          if (!kept) find("[data-worklist]").innerHTML =
            "<p>本机还没有工作清单：请在有网络时打开本页一次。</p>";
          return;
        }
        return fetch("/api/v1/field/worklist", { credentials: "same-origin",
                                                  cache: "no-store" })
          .then(function (response) {
            if (response.status === 401) { askToSignIn(); return null; }
            return response.ok ? response.json() : null;
          })
          .then(function (fresh) {
            if (!fresh) return;
            fresh.fetched_at = new Date().toISOString();
            worklist = fresh;
            showWorklist();
            return put("worklists", fresh);
          })
          .catch(function () { /* the network went away: the kept copy stays */ });
      });
  }

  function showWorklist() {
    var box = find("[data-worklist]");
    box.innerHTML = "";
    find("[data-updated]").textContent = "工作清单更新于 " +
      new Date(worklist.fetched_at).toLocaleString("zh-CN") + "（" + worklist.today + "）";
    var list = el("ul", { class: "field-work" });
    if (role === "provider") {
      worklist.beneficiaries.forEach(function (b) {
        list.appendChild(el("li", { class: "card" }, [
          el("p", {}, [el("b", { text: b.name }), el("span", { class: "muted",
            text: " " + b.grade_label + (b.overdue ? " 已逾期" : b.due_today ? " 今日应上门" : "") })]),
          el("p", { text: "地址：" + (b.address || b.village) }),
          el("p", { class: "muted", text: "本月应上门 " + b.due + " 次，已上门 " + b.done +
            " 次；护理项目：" + b.items.map(function (i) { return i.name; }).join("、") }),
          el("button", { type: "button", "data-visit": b.person_id,
                         text: "记录" + b.name + "的上门服务" })
        ]));
      });
      if (!worklist.beneficiaries.length) box.appendChild(el("p", { text: "本机构目前没有居家上门服务对象。" }));
    } else {
      worklist.assessments.forEach(function (a) {
        list.appendChild(el("li", { class: "card" }, [
          el("p", {}, [el("b", { text: a.name }), el("span", { class: "muted",
            text: " " + a.application_number })]),
          el("p", { text: "地址：" + a.address }),
          el("p", { class: "muted", text: "已评分 " + Object.keys(a.scores).length + " / " +
            worklist.instrument.length + " 项" }),
          el("button", { type: "button", "data-assess": a.id, text: "填写" + a.name + "的评估" })
        ]));
      });
      if (!worklist.assessments.length) box.appendChild(el("p", { text: "目前没有待评估的任务。" }));
    }
    box.appendChild(list);
  }

  // --- the forms ---------------------------------------------------------------------------

  function field(id, label, input, hint) {
    input.id = id;
    input.name = id;
    return el("div", { class: "field-row" }, [
      el("label", { for: id, text: label }), input,
      hint ? el("p", { class: "muted", text: hint }) : null,
      el("p", { class: "field-error", "data-error-for": id, role: "alert" })
    ]);
  }

  function openForm(title, children, submitLabel, onSubmit) {
    var card = find("[data-form-card]"), form = find("[data-form]");
    find("[data-form-title]").textContent = title;
    form.innerHTML = "";
    children.forEach(function (child) { form.appendChild(child); });
    form.appendChild(el("p", { class: "actions" }, [
      el("button", { type: "submit", text: submitLabel }),
      el("button", { type: "button", class: "secondary", "data-close": "", text: "取消" })
    ]));
    form.onsubmit = function (event) {
      event.preventDefault();
      form.querySelectorAll("[data-error-for]").forEach(function (p) { p.textContent = ""; });
      var problems = onSubmit(form);
      Object.keys(problems).forEach(function (name) {
        var where = form.querySelector("[data-error-for='" + name + "']");
        if (where) where.textContent = problems[name];
      });
    };
    card.hidden = false;
    card.scrollIntoView();
  }

  function closeForm() {
    find("[data-form-card]").hidden = true;
    find("[data-form]").innerHTML = "";
  }

  function visitForm(personId) {
    var b = worklist.beneficiaries.filter(function (x) { return x.person_id === personId; })[0];
    var now = new Date(), hourAgo = new Date(now.getTime() - 3600 * 1000);
    var start = el("input", { type: "datetime-local", value: localInput(hourAgo) });
    var end = el("input", { type: "datetime-local", value: localInput(now) });
    var items = el("fieldset", {}, [el("legend", { text: "完成的护理项目" })]);
    b.items.forEach(function (item) {
      var id = "item-" + item.code;
      items.appendChild(el("label", { class: "option", for: id }, [
        el("input", { type: "checkbox", id: id, name: "items", value: item.code }),
        el("span", { text: item.name + "（" + item.code + "）" + (item.required ? " 必做" : "") })
      ]));
    });
    items.appendChild(el("p", { class: "field-error", "data-error-for": "items", role: "alert" }));
    openForm("登记上门服务：" + b.name, [
      el("p", { class: "muted", text: "地址：" + (b.address || b.village) }),
      field("started_at", "开始时间", start),
      field("ended_at", "结束时间", end),
      items,
      field("notes", "服务备注（可选）", el("textarea", { rows: "2" })),
      field("family_confirmed_by", "确认的家属姓名", el("input", { type: "text" })),
      field("confirmation_code", "家庭确认码（6位数字）",
            el("input", { type: "text", inputmode: "numeric", maxlength: "6" }),
            "印在护理计划告知书上")
    ], "保存（联网后自动上传）", function (form) {
      var value = function (name) { return form.elements[name].value.trim(); };
      var chosen = Array.prototype.filter.call(form.querySelectorAll("input[name=items]"),
        function (box) { return box.checked; }).map(function (box) { return box.value; });
      var problems = {};
      if (!value("started_at")) problems.started_at = "请填写开始时间";
      if (!value("ended_at")) problems.ended_at = "请填写结束时间";
      if (value("started_at") && value("ended_at") && value("ended_at") <= value("started_at"))
        problems.ended_at = "结束时间须晚于开始时间";
      if (!chosen.length) problems.items = "请勾选本次完成的护理项目";
      if (!value("family_confirmed_by")) problems.family_confirmed_by = "请填写确认的家属姓名";
      if (!/^\d{6}$/.test(value("confirmation_code")))
        problems.confirmation_code = "请填写家属的6位家庭确认码";
      if (Object.keys(problems).length) return problems;
      var key = uuid();
      queue({
        uuid: key, kind: "visit", title: b.name + " " + value("started_at").replace("T", " ") + " 上门服务",
        body: {
          client_uuid: key, person_id: b.person_id, started_at: withZone(value("started_at")),
          ended_at: withZone(value("ended_at")), items: chosen, notes: value("notes"),
          family_confirmed_by: value("family_confirmed_by"),
          confirmation_code: value("confirmation_code")
        }
      });
      return {};
    });
  }

  function assessmentForm(assessmentId) {
    var a = worklist.assessments.filter(function (x) { return x.id === assessmentId; })[0];
    var children = [el("p", { class: "muted", text: "地址：" + a.address })];
    worklist.instrument.forEach(function (item) {
      var set = el("fieldset", { class: "item" }, [el("legend", { text: item.name })]);
      item.options.forEach(function (option) {
        var id = "score-" + item.code + "-" + option.score;
        var box = el("input", { type: "radio", id: id, name: "score_" + item.code,
                                value: String(option.score) });
        if (a.scores[item.code] === option.score) box.checked = true;
        set.appendChild(el("label", { class: "option", for: id }, [
          box, el("b", { text: option.score + " 分" }), el("span", { text: option.wording })]));
      });
      children.push(set);
    });
    openForm("评估：" + a.name + "（" + a.application_number + "）", children,
             "保存评分（联网后自动上传）", function (form) {
      var scores = {};
      worklist.instrument.forEach(function (item) {
        var chosen = form.querySelector("input[name=score_" + item.code + "]:checked");
        if (chosen) scores[item.code] = parseInt(chosen.value, 10);
      });
      a.scores = scores;  // shown at once and kept for the next opening
      put("worklists", worklist);
      var body = Object.assign({ version: a.version, scores: scores }, a.draft);
      // The newest scores replace any still waiting for this assessment: each carries all.
      records().then(function (all) {
        return Promise.all(all.filter(function (r) {
          return r.kind === "draft" && r.assessment === a.id && r.state === "waiting";
        }).map(function (r) { return remove("records", r.uuid); }));
      }).then(function () {
        queue({ uuid: uuid(), kind: "draft", assessment: a.id, body: body,
                title: a.name + " 评估评分（" + Object.keys(scores).length + " 项）" });
      });
      return {};
    });
  }

  // A visit that could not go at once is one recorded offline: it carries the time the device
  // recorded it (recorded_at), so what changed while it waited is flagged, not refused. One
  // sent at once does not: it is checked as of now, like any other, PIN included.
  function recordedOffline(record) {
    if (record.kind === "visit" && !record.body.recorded_at) {
      record.body.recorded_at = record.created;
    }
  }

  function queue(record) {
    record.user = user;
    record.state = "waiting";
    record.created = new Date().toISOString();
    if (!navigator.onLine) recordedOffline(record);
    put("records", record).then(function () {
      closeForm();
      if (worklist) showWorklist();
      return showRecords();
    }).then(send);
  }

  // --- sending -----------------------------------------------------------------------------

  function askToSignIn() {
    find("[data-signin]").hidden = false;
  }

  function problemText(answer) {
    var error = (answer && answer.error) || {};
    var fields = error.fields || {};
    var details = Object.keys(fields).filter(function (k) { return k.charAt(0) !== "_"; })
      .map(function (k) { return fields[k]; });
    return (error.message || "服务器拒绝了这条记录") +
      (details.length ? "（" + details.join("；") + "）" : "");
  }

  function request(record) {
    if (record.kind === "visit") {
      return { url: "/api/v1/visits", method: "POST" };
    }
    return { url: "/api/v1/assessments/" + record.assessment + "/draft", method: "PUT" };
  }

  function answered(record, answer) {
    record.answered = new Date().toISOString();
    if (record.kind === "visit") {
      var flags = answer.flags || [];
      record.state = flags.length ? "flagged" : "sent";
      record.message = flags.map(function (f) { return f.message; }).join("；");
      return put("records", record);
    }
    record.state = "sent";
    record.message = "";
    worklist.assessments.forEach(function (a) {
      if (a.id === record.assessment) a.version = answer.version;
    });
    return put("worklists", worklist).then(function () { return put("records", record); });
  }

  function sendOne(record) {
    var how = request(record);
    return fetch(how.url, {
      method: how.method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "x-csrftoken": csrfToken() },
      body: JSON.stringify(record.body)
    }).catch(function (error) {  // no network: it waits, as one recorded offline
      recordedOffline(record);
      return put("records", record).then(function () { throw error; });
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        var code = answer && answer.error && answer.error.code;
        if (response.status === 401 || code === "csrf_failed") {
          askToSignIn();
          return false;
        }
        if (response.ok) return answered(record, answer).then(function () { return true; });
        if (response.status >= 500) return false;  // try again later
        record.state = "error";
        record.code = code || "";
        record.message = problemText(answer);
        return put("records", record).then(function () { return true; });
      });
    });
  }

  function send() {
    if (!navigator.onLine) return Promise.resolve();
    if (syncing) {  // a record saved meanwhile goes once the running round ends
      sendAgain = true;
      return Promise.resolve();
    }
    syncing = true;
    sendAgain = false;
    var sent = 0;
    return records().then(function (all) {
      var waiting = all.filter(function (r) { return r.state === "waiting"; });
      // One at a time, in the order they were entered; stop at the first that cannot go.
      return waiting.reduce(function (chain, record) {
        return chain.then(function (going) {
          return going && sendOne(record).then(function (went) {
            if (went && record.state !== "waiting") sent += 1;
            return went;
          });
        });
      }, Promise.resolve(true));
    }).catch(function () { /* the network dropped: they wait for the next chance */ })
      .then(function () {
        syncing = false;
        return showRecords();
      }).then(function () {
        if (sendAgain) return send();
        // The month's counts and versions changed on the server: fetch them again.
        if (sent) return loadWorklist();
      });
  }

  // The draft fields besides the scores, as GET /api/v1/assessments/{id} answers them.
  var DRAFT_FIELDS = ["onsite_started_at", "onsite_ended_at", "latitude", "longitude",
                      "guardian_name", "guardian_relationship", "guardian_phone"];

  function resend(key) {
    return store("records", "readonly", function (s) { return s.get(key); }).then(
      function (record) {
        return fetch("/api/v1/assessments/" + record.assessment, {
          credentials: "same-origin", cache: "no-store" }).then(function (response) {
          if (response.status === 401) { askToSignIn(); return null; }
          return response.ok ? response.json() : null;
        }).then(function (current) {
          if (!current) return;
          // Only the scores are this device's: what the full form recorded meanwhile (times
          // on site, position, guardian) is the server's, and the draft API replaces it all.
          DRAFT_FIELDS.forEach(function (name) { record.body[name] = current[name]; });
          record.body.version = current.version;
          record.state = "waiting";
          record.code = record.message = "";
          return put("records", record).then(showRecords).then(send);
        });
      }).catch(function () { /* offline: the record keeps its verdict; try again later */ });
  }

  // Answered records are on the server: the device shows them a week, then lets them go.
  function forgetOld() {
    var weekAgo = new Date(Date.now() - 7 * 24 * 3600 * 1000).toISOString();
    return records().then(function (all) {
      return Promise.all(all.filter(function (r) {
        return (r.state === "sent" || r.state === "flagged") && r.answered < weekAgo;
      }).map(function (r) { return remove("records", r.uuid); }));
    });
  }

  // --- start -------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", function () {
    root = document.getElementById("field");
    if (!root) return;
    user = parseInt(root.getAttribute("data-user"), 10);
    role = root.getAttribute("data-role");
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register("/field-sw.js", { scope: "/field" });
    }
    root.addEventListener("click", function (event) {
      var target = event.target;
      if (target.closest("[data-visit]")) {
        visitForm(parseInt(target.closest("[data-visit]").getAttribute("data-visit"), 10));
      } else if (target.closest("[data-assess]")) {
        assessmentForm(parseInt(target.closest("[data-assess]").getAttribute("data-assess"), 10));
      } else if (target.closest("[data-resend]")) {
        resend(target.closest("[data-resend]").getAttribute("data-resend"));
      } else if (target.closest("[data-close]")) {
        closeForm();
      }
    });
    window.addEventListener("online", function () { showNetwork(); send(); });
    window.addEventListener("offline", showNetwork);
    showNetwork();
    openDatabase().then(function (opened) {
      database = opened;
      return forgetOld().then(showRecords);
    }).then(loadWorklist).then(send);
  });
})();
