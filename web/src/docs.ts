// The /docs page: Swagger UI bundled locally (no CDN), reading the server's OpenAPI document.

import 'swagger-ui-dist/swagger-ui.css'
import SwaggerUIBundle from 'swagger-ui-dist/swagger-ui-bundle.js'

SwaggerUIBundle({
  url: '/api/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
})
