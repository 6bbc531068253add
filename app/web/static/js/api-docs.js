/* Starts Swagger UI on /api/docs (templates/swagger_ui.html): the page has no inline script, so
   the spec's address and OPENAPI_SWAGGER_UI_CONFIG come from the container's data attributes. */
(function () {
  "use strict";
  var container = document.getElementById("swagger-ui-container");
  // validatorUrl null: no badge from validator.swagger.io, which would send the spec's address
  // to a third party (and whose image the policy refuses).
  var config = { url: container.dataset.specUrl, dom_id: "#swagger-ui-container", validatorUrl: null };
  var extra = JSON.parse(container.dataset.config || "{}");
  Object.keys(extra).forEach(function (name) { config[name] = extra[name]; });
  window.ui = window.SwaggerUIBundle(config);
})();
