// Swagger UI on /openapi.json. Kept out of the page (no inline script under the CSP).
// validatorUrl null: Swagger UI would otherwise send the document to an outside validator.
"use strict";
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.url,
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
