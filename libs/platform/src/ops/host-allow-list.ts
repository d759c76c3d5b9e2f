import type { ServiceConfig } from '../config/service-config.js';

interface HostRequest {
  headers: Record<string, string | string[] | undefined>;
}
interface HostResponse {
  status(code: number): HostResponse;
  json(body: unknown): void;
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/** `127.0.0.1:3102` → `127.0.0.1`, `[::1]:3102` → `[::1]`; null when the header is missing or malformed. */
export function hostNameOf(header: string | undefined): string | null {
  const value = header?.trim().toLowerCase();
  if (!value) return null;
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::\d{1,5})?$/.exec(value);
  return match ? match[1]! : null;
}

/**
 * DNS rebinding: a web page on an attacker's name that resolves to 127.0.0.1 can reach a loopback-bound
 * server, but its requests still carry the attacker's name in `Host`. A loopback-bound service answers only
 * its own names (127.0.0.1, localhost, [::1], plus OPS_ALLOWED_HOSTS) and 421 to anything else, on every
 * path (docs included). Off loopback the tokens protect the routes instead, so nothing is checked here.
 */
export function hostAllowList(config: ServiceConfig): ((request: HostRequest, response: HostResponse, next: () => void) => void) | null {
  if (!config.http.loopback) return null;
  const allowed = new Set([...LOOPBACK_NAMES, ...config.env.OPS_ALLOWED_HOSTS]);
  return (request, response, next) => {
    const header = request.headers.host;
    const name = hostNameOf(Array.isArray(header) ? header[0] : header);
    if (name && allowed.has(name)) return next();
    response.status(421).json({
      statusCode: 421,
      error: 'Misdirected Request',
      message: 'this server answers only its loopback names (127.0.0.1, localhost, [::1]) and OPS_ALLOWED_HOSTS',
    });
  };
}
