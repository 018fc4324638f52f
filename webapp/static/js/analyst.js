/*
 * Analyst workspace: the BPMN/DMN modeler on a draft (save, validate with highlighted problems, submit for a
 * four-eyes publication review)
 * and the read-only DMN viewer. Configuration comes from JSON blocks the server writes into the page.
 */
(function () {
  "use strict";

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function setStatus(text, kind) {
    var el = document.getElementById("pf-status");
    if (!el) return;
    el.textContent = text;
    el.className = "pf-status" + (kind ? " pf-" + kind : "");
  }

  /* POST JSON with the CSRF header; resolves with the body, rejects with {message, details} in Chinese. */
  function post(url, body, csrf) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (payload) {
        if (!response.ok) {
          payload.message = payload.message || "请求失败（" + response.status + "）";
          throw payload;
        }
        return payload;
      });
    }, function () {
      throw { message: "无法连接服务器，请检查网络后重试" };
    });
  }

  /* Chinese labels for the modelers' own menus (modeler-zh.js), when loaded. */
  function zh() {
    return window.PermitFlowZh ? [window.PermitFlowZh.module] : [];
  }

  /* ---- DMN read-only view ---- */
  function dmnViewer() {
    var node = document.querySelector("[data-pf-dmn]");
    if (!node || !window.DmnJS) return;
    var config = data(node.getAttribute("data-pf-dmn"));
    var viewer = new window.DmnJS({ container: node, common: { additionalModules: zh() } });
    viewer.importXML(config.xml).then(function () {
      node.setAttribute("data-diagram-ready", "true");
    }, function (err) {
      node.setAttribute("data-diagram-ready", "error");
      node.textContent = "决策表无法显示：" + err.message;
    });
  }

  /* ---- modeler ---- */
  function Modeler(config) {
    this.config = config;
    this.kind = config.kind;
    this.dirty = false;
    this.errorIds = [];
    var container = document.getElementById("pf-canvas");
    if (this.kind === "bpmn") {
      // The canvas takes the keyboard (undo, copy, delete…) once clicked: diagram-js binds it implicitly.
      this.modeler = new window.BpmnJS({ container: container, additionalModules: zh() });
    } else {
      this.modeler = new window.DmnJS({ container: container, common: { additionalModules: zh() } });
    }
    container.setAttribute("data-modeler-ready", "loading");
  }

  Modeler.prototype.load = function () {
    var self = this;
    var container = document.getElementById("pf-canvas");
    return this.modeler.importXML(this.config.xml).then(function () {
      if (self.kind === "bpmn") {
        self.modeler.get("canvas").zoom("fit-viewport", "auto");
        self.modeler.on("commandStack.changed", function () { self.markDirty(); });
      } else {
        self.watchDmn();
      }
      container.setAttribute("data-modeler-ready", "true");
      window.pfModeler = self.modeler;  // handy in the browser console and for browser tests
    }, function (err) {
      container.setAttribute("data-modeler-ready", "error");
      setStatus("无法打开草稿：" + err.message, "bad");
    });
  };

  Modeler.prototype.watchDmn = function () {
    var self = this;
    var attach = function () {
      var viewer = self.modeler.getActiveViewer();
      if (viewer && !viewer.__pfWatched) {
        viewer.on("commandStack.changed", function () { self.markDirty(); });
        viewer.__pfWatched = true;
      }
    };
    attach();
    this.modeler.on("views.changed", attach);
  };

  Modeler.prototype.markDirty = function () {
    this.dirty = true;
    setStatus("有未保存的修改");
  };

  Modeler.prototype.save = function () {
    var self = this;
    setStatus("正在保存…");
    return this.modeler.saveXML({ format: true }).then(function (result) {
      return post(self.config.urls.save, { xml: result.xml }, self.config.csrf);
    }).then(function (answer) {
      self.dirty = false;
      setStatus("草稿已保存", "ok");
      return answer;
    });
  };

  Modeler.prototype.clearErrors = function () {
    if (this.kind !== "bpmn") return;
    var canvas = this.modeler.get("canvas");
    var registry = this.modeler.get("elementRegistry");
    this.errorIds.forEach(function (id) { if (registry.get(id)) canvas.removeMarker(id, "pf-error"); });
    this.errorIds = [];
  };

  Modeler.prototype.focus = function (id) {
    if (!id) return;
    if (this.kind === "bpmn") {
      var element = this.modeler.get("elementRegistry").get(id);
      if (!element) return;
      var canvas = this.modeler.get("canvas");
      if (canvas.zoom() < 0.8) canvas.zoom(1);
      canvas.scrollToElement(element);
      this.modeler.get("selection").select(element);
      return;
    }
    var views = this.modeler.getViews().filter(function (v) { return v.element && v.element.id === id; });
    if (views.length) this.modeler.open(views[0]);
  };

  Modeler.prototype.showReport = function (report) {
    var self = this;
    var list = document.getElementById("pf-problems");
    list.innerHTML = "";
    this.clearErrors();
    var registry = this.kind === "bpmn" ? this.modeler.get("elementRegistry") : null;
    report.problems.forEach(function (p) {
      var li = document.createElement("li");
      li.tabIndex = 0;
      li.setAttribute("data-element", p.element || "");
      li.setAttribute("data-code", p.code);
      var title = document.createElement("strong");
      title.textContent = p.title || p.code;
      li.appendChild(title);
      li.appendChild(document.createElement("br"));
      li.appendChild(document.createTextNode(p.message));
      if (p.element) {
        li.appendChild(document.createTextNode(" "));
        var code = document.createElement("code");
        code.textContent = p.element;
        li.appendChild(code);
        if (registry && registry.get(p.element)) {
          self.modeler.get("canvas").addMarker(p.element, "pf-error");
          self.errorIds.push(p.element);
        }
      }
      if (p.detail && p.detail !== p.message) li.title = p.detail;
      var go = function () { self.focus(p.element); };
      li.addEventListener("click", go);
      li.addEventListener("keydown", function (e) { if (e.key === "Enter") go(); });
      list.appendChild(li);
    });
    (report.warnings || []).forEach(function (w) {
      var li = document.createElement("li");
      li.className = "pf-warning";
      li.textContent = w.message;
      list.appendChild(li);
    });
    if (report.ok && !(report.warnings || []).length) {
      var ok = document.createElement("li");
      ok.className = "pf-warning";
      ok.textContent = "没有发现问题，可以提交发布审核。";
      list.appendChild(ok);
    }
    setStatus(report.ok ? "校验通过" : "校验发现 " + report.problems.length + " 处问题", report.ok ? "ok" : "bad");
    var first = report.problems.filter(function (p) { return p.element; })[0];
    if (first) this.focus(first.element);
  };

  Modeler.prototype.validate = function () {
    var self = this;
    return this.save().then(function () {
      setStatus("正在校验…");
      return post(self.config.urls.validate, {}, self.config.csrf);
    }).then(function (report) {
      self.showReport(report);
      return report;
    });
  };

  /* Four-eyes publication: the author submits; another analyst with the publish permission approves. */
  Modeler.prototype.submit = function () {
    var self = this;
    var field = document.getElementById("pf-comment");
    var comment = field.value.trim();
    if (!comment) {
      setStatus("请填写变更说明后再提交审核", "bad");
      field.focus();
      return Promise.resolve(null);
    }
    return this.save().then(function () {
      setStatus("正在校验并提交…");
      return post(self.config.urls.submit, { comment: comment }, self.config.csrf);
    }).then(function (answer) {
      setStatus("已提交发布审核，等待另一位有发布权限的人员审核", "ok");
      window.setTimeout(function () { window.location.href = answer.url; }, 800);
      return answer;
    }, function (err) {
      if (err && err.details && err.details.problems) {
        self.showReport({ ok: false, problems: err.details.problems, warnings: [] });
      }
      throw err;
    });
  };

  function bind(id, action) {
    var button = document.getElementById(id);
    if (!button) return;
    button.addEventListener("click", function () {
      button.disabled = true;
      action().catch(function (err) {
        setStatus((err && err.message) || "操作失败", "bad");
      }).then(function () { button.disabled = false; });
    });
  }

  function modelerPage() {
    var config = data("pf-modeler-config");
    if (!config) return;
    var page = new Modeler(config);
    page.load();
    bind("pf-save", function () { return page.save(); });
    bind("pf-validate", function () { return page.validate(); });
    bind("pf-submit", function () { return page.submit(); });
    window.addEventListener("beforeunload", function (e) {
      // A submitted draft is read-only until withdrawn: nothing to lose on leaving.
      if (page.dirty && config.status !== "submitted") { e.preventDefault(); e.returnValue = ""; }
    });
    var discard = document.getElementById("pf-discard");
    if (discard) {
      discard.form.addEventListener("submit", function (e) {
        if (!window.confirm("确定放弃该草稿吗？未发布的修改将丢失。")) e.preventDefault();
        else page.dirty = false;
      });
    }
  }

  /* ---- version compare: both diagrams pan and zoom together; a row of the table centers its element ---- */
  function comparePage() {
    var oldNode = document.getElementById("pf-old-diagram");
    var newNode = document.getElementById("pf-new-diagram");
    if (!oldNode || !newNode || !window.PermitFlowDiagram) return;
    var linked = false;
    function link() {
      if (linked || !oldNode.pfViewer || !newNode.pfViewer) return;
      linked = true;
      window.PermitFlowDiagram.sync(oldNode.pfViewer, newNode.pfViewer);
    }
    document.addEventListener("pf-diagram-ready", link);
    link();
    Array.prototype.forEach.call(document.querySelectorAll("#pf-diff-table tr[data-element]"), function (row) {
      row.tabIndex = 0;
      var go = function () {
        var id = row.getAttribute("data-element");
        [newNode, oldNode].some(function (node) {
          return node.pfViewer && window.PermitFlowDiagram.focus(node.pfViewer, id);
        });
      };
      row.addEventListener("click", go);
      row.addEventListener("keydown", function (e) { if (e.key === "Enter") go(); });
    });
  }

  function start() {
    modelerPage();
    dmnViewer();
    comparePage();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
