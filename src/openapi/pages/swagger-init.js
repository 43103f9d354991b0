// Starts Swagger UI on the document named by the page. A file of its own, not an inline script, so the page's
// Content-Security-Policy can forbid inline scripts. "Try it out" calls the same origin; no validator badge
// (it would call validator.swagger.io).
const root = document.getElementById('swagger-ui');
window.ui = SwaggerUIBundle({
  url: root.dataset.specUrl,
  domNode: root,
  presets: [SwaggerUIBundle.presets.apis],
  validatorUrl: null,
  deepLinking: true,
  displayOperationId: true,
  displayRequestDuration: true,
  showExtensions: false,
});
