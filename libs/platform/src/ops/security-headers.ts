interface HeaderRequest {
  path: string;
}
interface HeaderResponse {
  setHeader(name: string, value: string): void;
}

/** JSON, text and HTML fragments: nothing may load, nothing may frame them. */
export const DEFAULT_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Swagger UI at /docs: its scripts and stylesheet are served from /docs itself, its page carries inline
 * styles, its CSS uses data: images and "try it out" calls the same origin; no inline script runs.
 */
export const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The headers every ops response carries: no MIME sniffing, no framing, and a CSP that allows nothing
 * unless the route needs more (the docs here; the dashboard page sets its own next to its markup, and a
 * route's own header replaces this default).
 */
export function securityHeaders(request: HeaderRequest, response: HeaderResponse, next: () => void): void {
  response.setHeader('X-Content-Type-Options', 'nosniff');
  response.setHeader('Content-Security-Policy', request.path === '/docs' || request.path.startsWith('/docs/') ? DOCS_CSP : DEFAULT_CSP);
  next();
}
