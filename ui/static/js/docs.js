// Swagger UI over this server's /openapi.json, from the copy the server ships (ui/pages.py): no CDN, no inline
// script. "Try it out" goes out with the session cookie, from this page's own origin.

/* global SwaggerUIBundle */
SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });
