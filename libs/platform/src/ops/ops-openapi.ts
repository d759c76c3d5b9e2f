import type { ExecutionContext, INestApplication } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import { MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { ServiceConfig } from '../config/service-config.js';
import { opsAccessOf, type OpsTokenVariable, opsTokensFor } from './ops-token.guard.js';

/** The bearer schemes of the document, named after the variables that hold the tokens. */
const TOKEN_SCHEMES: Record<OpsTokenVariable, string> = {
  OPS_TOKEN: 'write scope: calls that change something; also accepted for reads',
  OPS_READ_TOKEN: 'read scope: pipeline data, when the server is bound off loopback',
};

/** Swagger's own operation ids, made explicit: the route's tokens are looked up by them. */
const operationIdOf = (controller: string, method: string) => `${controller}_${method}`;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** The tokens each route of the app accepts on this server (`opsTokensFor`, as the guard asks it), by operation id. */
function routeTokens(app: INestApplication, config: ServiceConfig): Map<string, OpsTokenVariable[]> {
  const reflector = app.get(Reflector);
  const scanner = new MetadataScanner();
  const tokens = new Map<string, OpsTokenVariable[]>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as ReturnType<ExecutionContext['getClass']> | null;
      if (!controller) continue;
      const prototype = controller.prototype as Record<string, ReturnType<ExecutionContext['getHandler']>>;
      for (const name of scanner.getAllMethodNames(prototype)) {
        const handler = prototype[name]!;
        // Kafka handlers of the same controllers have no HTTP path.
        if (Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
        tokens.set(operationIdOf(controller.name, name), opsTokensFor(opsAccessOf(reflector, handler, controller), config));
      }
    }
  }
  return tokens;
}

/**
 * OpenAPI for the service's HTTP routes: the UI at /docs, the document at /docs/openapi.json. Each operation's
 * `security` is what the token guard asks of it on this server — the accepted tokens as alternatives, none on
 * an open route — so the document cannot drift from the guard.
 */
export function setupOpsDocs(app: INestApplication, config: ServiceConfig): void {
  const builder = new DocumentBuilder()
    .setTitle(`Cascade ${config.service}`)
    .setDescription(
      'Health, metrics and operations routes. Calls that change something need `Authorization: Bearer <OPS_TOKEN>`; when the server is bound off loopback, reads of pipeline data need OPS_READ_TOKEN or OPS_TOKEN. Each operation names the tokens it accepts on this server.',
    )
    .setVersion('0.1.0');
  for (const [variable, description] of Object.entries(TOKEN_SCHEMES)) builder.addBearerAuth({ type: 'http', scheme: 'bearer', description }, variable);
  const openApi = builder.build();
  const tokens = routeTokens(app, config);
  const document = (): OpenAPIObject => {
    const built = SwaggerModule.createDocument(app, openApi, { operationIdFactory: operationIdOf });
    for (const path of Object.values(built.paths)) {
      for (const operation of HTTP_METHODS.flatMap((method) => path[method] ?? [])) {
        const accepted = tokens.get(operation.operationId ?? '');
        if (accepted === undefined) throw new Error(`OpenAPI operation ${operation.operationId} has no route: its security is unknown`);
        if (accepted.length > 0) operation.security = accepted.map((variable) => ({ [variable]: [] }));
        else delete operation.security;
      }
    }
    return built;
  };
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json', yamlDocumentUrl: 'docs/openapi.yaml' });
}
