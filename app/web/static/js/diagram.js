/* The instance's BPMN (the version it runs on) in bpmn-js, the current step highlighted. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var figure = document.getElementById("diagram");
    if (!figure || !window.BpmnJS) return;
    var viewer = new window.BpmnJS({ container: "#diagram-canvas" });
    fetch(figure.dataset.src, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (payload) {
        return viewer.importXML(payload.xml).then(function () {
          var canvas = viewer.get("canvas"), registry = viewer.get("elementRegistry");
          payload.completed.forEach(function (id) { if (registry.get(id)) canvas.addMarker(id, "step-done"); });
          payload.current.forEach(function (id) { if (registry.get(id)) canvas.addMarker(id, "step-current"); });
          canvas.zoom("fit-viewport", "auto");
          var version = document.getElementById("diagram-version");
          if (version) version.textContent = figure.dataset.versionLabel.replace("__V__", payload.version);
          figure.classList.add("loaded");
        });
      })
      .catch(function () {
        figure.querySelector(".diagram-canvas").textContent = figure.dataset.failed;
      });
  });
})();
