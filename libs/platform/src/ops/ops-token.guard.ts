import { createHash, timingSafeEqual } from 'node:crypto';
import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  SetMetadata,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { ServiceConfig } from '../config/service-config.js';
import { SERVICE_CONFIG } from '../platform.tokens.js';

/**
 * Who may call a route: `open` (health, metrics, static assets), `read` (pipeline data) or `write`
 * (changes). A route that declares nothing is `read`, so a new data route is never open by accident.
 */
export type OpsAccessLevel = 'open' | 'read' | 'write';
const OPS_ACCESS = 'cascade:ops-access';
export const OpsAccess = (level: OpsAccessLevel) => SetMetadata(OPS_ACCESS, level);

/** A route's level: its own, else its controller's, else `read`. */
export function opsAccessOf(
  reflector: Reflector,
  handler: ReturnType<ExecutionContext['getHandler']>,
  controller: ReturnType<ExecutionContext['getClass']>,
): OpsAccessLevel {
  return reflector.getAllAndOverride<OpsAccessLevel | undefined>(OPS_ACCESS, [handler, controller]) ?? 'read';
}

/** The variables holding the ops bearer tokens: the write scope, and the read scope. */
export type OpsTokenVariable = 'OPS_TOKEN' | 'OPS_READ_TOKEN';

/**
 * The one owner of the ops HTTP token rules: the tokens a route of this level accepts on this server, any
 * one of them enough (none: the route is open). `write` needs OPS_TOKEN; `read` is open on a loopback-bound
 * server, elsewhere it needs OPS_READ_TOKEN or OPS_TOKEN unless OPS_ALLOW_UNAUTHENTICATED=true. The guard
 * enforces it and the OpenAPI document states it (`ops-openapi.ts`), so the two cannot disagree.
 */
export function opsTokensFor(level: OpsAccessLevel, config: ServiceConfig): OpsTokenVariable[] {
  if (level === 'open') return [];
  if (level === 'write') return ['OPS_TOKEN'];
  return config.http.loopback || config.env.OPS_ALLOW_UNAUTHENTICATED ? [] : ['OPS_READ_TOKEN', 'OPS_TOKEN'];
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Installed on every route of every service, enforces `opsTokensFor` with `Authorization: Bearer <token>`:
 * 401 without a token, 403 with a wrong one or when none of the accepted tokens is configured.
 * Comparisons are constant-time and tokens are never logged.
 */
@Injectable()
export class OpsTokenGuard implements CanActivate {
  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    // Kafka handlers share the app's global guards; tokens are an HTTP matter.
    if (context.getType() !== 'http') return true;
    const level = opsAccessOf(this.reflector, context.getHandler(), context.getClass());
    const tokens = opsTokensFor(level, this.config);
    if (tokens.length === 0) return true;

    const request = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
    const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
    if (!match) throw new UnauthorizedException('a bearer token is required for this call');
    const accepted = tokens.map((variable) => this.config.env[variable]).filter((t): t is string => !!t);
    if (accepted.length === 0) {
      throw new ForbiddenException(
        level === 'write' ? 'mutating ops calls are disabled: OPS_TOKEN is not configured' : 'reads are disabled: neither OPS_READ_TOKEN nor OPS_TOKEN is configured',
      );
    }
    const presented = digest(match[1]!);
    // Every accepted token is compared, so the time taken does not say which one matched.
    const valid = accepted.map((token) => timingSafeEqual(presented, digest(token))).includes(true);
    if (!valid) throw new ForbiddenException('the token is not valid for this call');
    return true;
  }
}
