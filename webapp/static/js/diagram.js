/*
 * PermitFlowDiagram: a small wrapper around the vendored bpmn-js viewer.
 *
 *   PermitFlowDiagram.view(containerEl, bpmnXml, {
 *     highlight: ["Task_review"],          // elements drawn as "current" (e.g. the instance's open task)
 *     counts: {"Task_review": 12},         // a blue badge: instances waiting on the element
 *     incidents: {"Task_hrss": 2},         // a red badge: open incidents on the element
 *     markers: {"Task_x": "pf-added"},     // any CSS class per element (compare view: pf-added/-removed/-changed)
 *     errors: ["Flow_3"],                  // elements drawn as faulty (validation problems)
 *     autoHeight: true, maxHeight: 560     // the box's height follows the diagram's shape (default on)
 *   }) -> Promise<viewer>
 *
 * The container gets zoom buttons, `container.pfViewer`, data-diagram-ready="true" and a "pf-diagram-ready" event.
 * PermitFlowDiagram.focus(viewer, elementId) centers on an element; PermitFlowDiagram.sync(a, b) links two views.
 *
 * Only this file needs to be included: it loads the bpmn-js navigated viewer bundle and the CSS on first use
 * (from /static/vendor, never a CDN). A page that already loaded the modeler bundle gets a modeler-backed view.
 */
(function (global) {
  "use strict";

  var script = document.currentScript;
  var STATIC = script ? script.src.replace(/js\/diagram\.js(\?.*)?$/, "") : "/static/";
  var STYLES = [
    "vendor/bpmn-js/assets/diagram-js.css",
    "vendor/bpmn-js/assets/bpmn-js.css",
    "vendor/bpmn-js/assets/bpmn-font/css/bpmn.css",
    "css/diagram.css",
  ];
  var VIEWER = "vendor/bpmn-js/bpmn-navigated-viewer.production.min.js";
  var loading = null;

  function addStyles() {
    STYLES.forEach(function (path) {
      var href = STATIC + path;
      if (document.querySelector('link[href="' + href + '"]')) return;
      var link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = href;
      document.head.appendChild(link);
    });
  }

  function loadViewer() {
    if (global.BpmnJS) return Promise.resolve(global.BpmnJS);
    if (loading) return loading;
    loading = new Promise(function (resolve, reject) {
      var tag = document.createElement("script");
      tag.src = STATIC + VIEWER;
      tag.onload = function () { resolve(global.BpmnJS); };
      tag.onerror = function () { reject(new Error("无法加载流程图组件")); };
      document.head.appendChild(tag);
    });
    return loading;
  }

  function badge(cls, n, title) {
    var el = document.createElement("div");
    el.className = cls;
    el.textContent = String(n);
    el.title = title;
    return el;
  }

  /* Markers, badges and highlights on an imported diagram; unknown ids are skipped (older versions). */
  function decorate(viewer, options) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    var overlays = viewer.get("overlays");
    var known = function (id) { return !!registry.get(id); };
    (options.highlight || []).filter(known).forEach(function (id) { canvas.addMarker(id, "pf-highlight"); });
    (options.errors || []).filter(known).forEach(function (id) { canvas.addMarker(id, "pf-error"); });
    Object.keys(options.markers || {}).filter(known).forEach(function (id) {
      canvas.addMarker(id, options.markers[id]);
    });
    Object.keys(options.counts || {}).filter(known).forEach(function (id) {
      var n = options.counts[id];
      if (!n) return;
      overlays.add(id, "pf-count", {
        position: { bottom: 8, left: -8 },
        html: badge("pf-count", n, n + " 个实例在此等待"),
      });
    });
    Object.keys(options.incidents || {}).filter(known).forEach(function (id) {
      var n = options.incidents[id];
      if (!n) return;
      overlays.add(id, "pf-incident", {
        position: { top: -8, right: 8 },
        html: badge("pf-incident", n, n + " 个未处理故障"),
      });
    });
  }

  /* Wide diagrams get a shorter box so that "fit" does not shrink them into a strip. */
  function fitHeight(viewer, container, options) {
    var canvas = viewer.get("canvas");
    var inner = canvas.viewbox().inner;
    if (options.autoHeight !== false && inner.width > 0) {
      var max = options.maxHeight || 560;
      var wanted = Math.round(container.clientWidth * inner.height / inner.width) + 48;
      container.style.height = Math.max(Math.min(wanted, max), options.minHeight || 220) + "px";
      canvas.resized();
    }
    canvas.zoom("fit-viewport", "auto");
  }

  function zoomControls(viewer, container) {
    var canvas = viewer.get("canvas");
    var bar = document.createElement("div");
    bar.className = "pf-zoom";
    [["+", "放大", function () { canvas.zoom(canvas.zoom() * 1.25); }],
     ["−", "缩小", function () { canvas.zoom(canvas.zoom() / 1.25); }],
     ["⤢", "适应窗口", function () { canvas.zoom("fit-viewport", "auto"); }]].forEach(function (spec) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = spec[0];
      button.title = spec[1];
      button.setAttribute("aria-label", spec[1]);
      button.addEventListener("click", spec[2]);
      bar.appendChild(button);
    });
    container.appendChild(bar);
  }

  /* Center (and zoom to 100 % at most) on one element. */
  function focus(viewer, id) {
    var element = viewer.get("elementRegistry").get(id);
    if (!element) return false;
    var canvas = viewer.get("canvas");
    if (canvas.zoom() < 0.8) canvas.zoom(1);
    canvas.scrollToElement(element);
    return true;
  }

  /* Two viewers that pan and zoom together (version compare). */
  function sync(a, b) {
    var busy = false;
    function follow(from, to) {
      from.on("canvas.viewbox.changed", function (event) {
        if (busy) return;
        busy = true;
        try { to.get("canvas").viewbox(event.viewbox); } finally { busy = false; }
      });
    }
    follow(a, b);
    follow(b, a);
  }

  function view(container, xml, options) {
    options = options || {};
    addStyles();
    container.classList.add("pf-diagram");
    return loadViewer().then(function (BpmnJS) {
      var viewer = new BpmnJS({ container: container });
      return viewer.importXML(xml).then(function () {
        fitHeight(viewer, container, options);
        decorate(viewer, options);
        if (options.controls !== false) zoomControls(viewer, container);
        container.pfViewer = viewer;
        container.setAttribute("data-diagram-ready", "true");
        container.dispatchEvent(new CustomEvent("pf-diagram-ready", { bubbles: true, detail: { viewer: viewer } }));
        return viewer;
      });
    }).catch(function (err) {
      container.setAttribute("data-diagram-ready", "error");
      var note = document.createElement("p");
      note.className = "pf-diagram-error";
      note.textContent = "流程图无法显示：" + (err && err.message ? err.message : err);
      container.appendChild(note);
      throw err;
    });
  }

  /* Read a JSON block written by the server (<script type="application/json" id=…>). */
  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  /* Pages may declare diagrams without any script of their own:
   * <div data-pf-diagram="json-block-id"></div> with {"xml": …, "highlight": …, "counts": …} in that block. */
  function autoload() {
    var nodes = document.querySelectorAll("[data-pf-diagram]");
    Array.prototype.forEach.call(nodes, function (node) {
      var config = data(node.getAttribute("data-pf-diagram"));
      if (config && config.xml) view(node, config.xml, config).catch(function () {});
    });
  }

  global.PermitFlowDiagram = {
    view: view, decorate: decorate, focus: focus, sync: sync, addStyles: addStyles, data: data, STATIC: STATIC,
  };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", autoload);
  } else {
    autoload();
  }
})(window);
