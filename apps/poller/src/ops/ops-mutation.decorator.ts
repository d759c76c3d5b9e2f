import { OpsAccess } from '#platform';
import { applyDecorators, HttpCode } from '@nestjs/common';
import { ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';

/** A call that changes something: bearer OPS_TOKEN required (401 without, 403 when wrong), 202 when accepted; its OpenAPI security comes from the guard's rule. */
export const OpsMutation = () =>
  applyDecorators(
    HttpCode(202),
    OpsAccess('write'),
    ApiUnauthorizedResponse({ description: 'no bearer token' }),
    ApiForbiddenResponse({ description: 'wrong token, or OPS_TOKEN not configured' }),
  );
