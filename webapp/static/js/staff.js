/* Behaviour of the staff pages, kept out of the templates: the Content-Security-Policy allows no inline script.
   Print buttons, the operations console's instance diagram, and the export progress page. */
(function () {
  "use strict";

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  var diagramData = document.getElementById("diagram-data");
  var diagram = document.getElementById("instance-diagram");
  if (diagramData && diagram) {
    var data = JSON.parse(diagramData.textContent);
    if (!window.PermitFlowDiagram || !data.xml) {
      diagram.hidden = true;
    } else {
      window.PermitFlowDiagram.view(diagram, data.xml, { highlight: data.highlight, incidents: data.incidents })
        .catch(function () { diagram.textContent = "流程图加载失败"; });
    }
  }

  var state = document.getElementById("export-state");
  if (state && state.dataset.statusUrl) {
    var statusUrl = state.dataset.statusUrl;
    var show = function (job) {
      document.getElementById("export-status").textContent = job.status_label;
      state.dataset.status = job.status;
      var bar = document.getElementById("export-progress");
      bar.max = job.total || 1; bar.value = job.done;
      document.getElementById("export-done").textContent = job.done;
      document.getElementById("export-total").textContent = job.total;
      if (job.download) { var a = document.getElementById("export-download"); a.href = job.download; a.hidden = false; }
      if (job.error) { var e = document.getElementById("export-error"); e.textContent = job.error; e.hidden = false; }
      return job.status === "done" || job.status === "failed";
    };
    var poll = function () {
      fetch(statusUrl, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (job) { if (!show(job)) { setTimeout(poll, 1000); } })
        .catch(function () { setTimeout(poll, 3000); });
    };
    if (state.dataset.status !== "done" && state.dataset.status !== "failed") { setTimeout(poll, 500); }
  }
})();
