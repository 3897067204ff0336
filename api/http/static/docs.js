// Swagger UI for /openapi.json (api/web.py serves /docs; the bundle comes from the fastapi-offline package).
// Started from this file, not from an inline script: the page's Content-Security-Policy allows no inline code.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,  // never the public validator: requests go to this origin only
  presets: [SwaggerUIBundle.presets.apis],
});
