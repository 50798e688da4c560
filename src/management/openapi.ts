/**
 * The management API's OpenAPI 3.1 document, built from the route table and its zod schemas (JSON
 * Schema 2020-12, which OpenAPI 3.1 uses), so that the document cannot drift from what is served.
 * @module
 */
import { z } from '../shared/zod.js';
import { deepFreeze } from '../shared/deep-freeze.js';
import { errorBody } from './api-schemas.js';
import { routes } from './routes.js';

type JsonObject = Record<string, unknown>;

const schemaOf = (schema: z.ZodType): JsonObject => {
  const generated = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: 'output',
    unrepresentable: 'any',
  }) as JsonObject;
  delete generated.$schema;
  return generated;
};

const ERROR_TEXT: Record<number, string> = {
  400: 'The body does not match the schema',
  401: 'No authenticated caller',
  403: 'The caller lacks the role, the request is cross-site, or the folder is not allowed',
  404: 'No such plugin or route',
  405: 'Method not allowed on this path',
  409: 'A plugin of that name is loaded, or its routes conflict',
  415: 'The body is not JSON',
  422: 'The plugin could not be loaded',
  500: 'The management API failed',
};

let built: JsonObject | undefined;

/** The document served at `<prefix>/openapi.json` (paths relative to the prefix, given as `servers`). */
export function openApiDocument(): JsonObject {
  if (built) return built;
  const error = { $ref: '#/components/schemas/Error' };
  const errors = (statuses: number[]) =>
    Object.fromEntries(
      [400, 401, 403, ...statuses, 500].map((s) => [
        String(s),
        { description: ERROR_TEXT[s], content: { 'application/json': { schema: error } } },
      ]),
    );
  const paths: Record<string, JsonObject> = {
    '/': {
      get: {
        operationId: 'getDashboard',
        summary: 'The dashboard page (HTML, inline script and styles, strict CSP)',
        responses: {
          '200': {
            description: 'The page',
            content: { 'text/html': { schema: { type: 'string' } } },
          },
          ...errors([]),
        },
      },
    },
    '/dashboard': {
      get: {
        operationId: 'getDashboardAlias',
        summary: 'The dashboard page, under another name',
        responses: {
          '200': {
            description: 'The page',
            content: { 'text/html': { schema: { type: 'string' } } },
          },
          ...errors([]),
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'getOpenApi',
        summary: 'This document',
        responses: {
          '200': {
            description: 'OpenAPI 3.1',
            content: { 'application/json': { schema: { type: 'object' } } },
          },
          ...errors([]),
        },
      },
    },
  };
  for (const route of routes) {
    const operation: JsonObject = {
      operationId: route.operationId,
      summary: route.summary,
      responses: {
        [String(route.status ?? 200)]: {
          description: 'Success',
          content: { 'application/json': { schema: schemaOf(route.response) } },
        },
        ...errors(route.errors ?? []),
      },
    };
    const params = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    if (params.length > 0) operation.parameters = params;
    if (route.body) {
      operation.requestBody = {
        required: true,
        content: { 'application/json': { schema: schemaOf(route.body) } },
      };
    }
    paths[route.path] = { ...paths[route.path], [route.method.toLowerCase()]: operation };
  }
  built = deepFreeze(
    {
      openapi: '3.1.0',
      info: {
        title: '@veza/plugin-gateway management API',
        version: '1',
        description:
          'Every route requires an authenticated caller with the admin role (the host decides how). Actions are POSTs with a JSON body.',
      },
      servers: [{ url: '.', description: 'the prefix the management API is mounted under' }],
      paths,
      components: { schemas: { Error: schemaOf(errorBody) } },
    },
    new Set(),
  );
  return built;
}
