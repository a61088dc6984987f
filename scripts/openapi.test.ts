// README's API tables are the newcomer's view of the two REST contracts; the OpenAPI documents
// (generated from the zod schemas the routes validate with) are the contract. This keeps them equal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { repoPath } from '@recipe-mesh/measure/repo';
import { recipeApiOpenApiDocument } from '../services/recipe-api/src/entry-points/rest/openapi.js';
import { webApiOpenApiDocument } from '../services/web-api/src/routes/openapi.js';

const readme = readFileSync(repoPath('README.md'), 'utf8');
const methods = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** `GET /recipes/{id}` for every operation of a document. */
function documentOperations(document: { paths?: object }): string[] {
  return Object.entries(document.paths ?? {}).flatMap(([path, item]: [string, Record<string, unknown>]) =>
    methods.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${path}`),
  );
}

/** The same from a README table: `GET /recipes/:id?cuisine=` → `GET /recipes/{id}`. */
function readmeOperations(heading: string): string[] {
  const section = readme.split(heading)[1]?.split('\n#')[0] ?? '';
  return [...section.matchAll(/^\| `([A-Z]+) ([^`?]+)[^`]*` \|/gm)].map(
    (m) => `${m[1]} ${m[2]!.replace(/:([a-zA-Z]+)/g, '{$1}')}`,
  );
}

for (const [heading, document] of [
  ['### web-api (public', webApiOpenApiDocument()],
  ['### recipe-api (producer', recipeApiOpenApiDocument()],
] as const) {
  test(`README's "${heading.slice(4)}…" table lists exactly the operations of its OpenAPI document`, () => {
    assert.equal(document.openapi, '3.1.0');
    const fromReadme = readmeOperations(heading);
    assert.ok(fromReadme.length > 0, `no API table under ${heading}`);
    assert.deepEqual([...fromReadme].sort(), documentOperations(document).sort());
  });

  test(`every error status of ${document.info.title}'s OpenAPI document is a coded JSON error`, () => {
    for (const [operation, item] of Object.entries(document.paths ?? {})) {
      for (const method of methods) {
        const responses = (item as Record<string, { responses?: Record<string, { content?: object }> }>)[method]
          ?.responses;
        for (const [status, response] of Object.entries(responses ?? {})) {
          if (Number(status) < 400) continue;
          assert.deepEqual(
            response.content,
            { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
            `${method} ${operation} ${status}`,
          );
        }
      }
    }
  });
}
