// swagger-ui-dist ships no types for its prebuilt bundle.
declare module 'swagger-ui-dist/swagger-ui-bundle.js' {
  const SwaggerUIBundle: (options: { url: string; dom_id: string; deepLinking?: boolean }) => unknown
  export default SwaggerUIBundle
}
