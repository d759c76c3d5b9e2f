import { createHash, timingSafeEqual } from 'node:crypto';
import { type CanActivate, type ExecutionContext, ForbiddenException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import type { ServiceConfig } from '../config/service-config.js';
import { SERVICE_CONFIG } from '../platform.tokens.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Mutating ops routes need `Authorization: Bearer <OPS_TOKEN>`: 401 without a token, 403 with a wrong
 * one (or when no OPS_TOKEN is configured). The comparison is constant-time and the token is never logged.
 */
@Injectable()
export class OpsTokenGuard implements CanActivate {
  constructor(@Inject(SERVICE_CONFIG) private readonly config: ServiceConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new UnauthorizedException('a bearer token is required for this call');
    const expected = this.config.env.OPS_TOKEN;
    if (!expected) throw new ForbiddenException('mutating ops calls are disabled: OPS_TOKEN is not configured');
    if (!timingSafeEqual(digest(match[1]!), digest(expected))) throw new ForbiddenException('the token is not valid');
    return true;
  }
}
