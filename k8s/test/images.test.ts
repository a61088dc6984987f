import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { readContracts } from './lib/contracts.js';
import {
  dockerfileProblems,
  dockerignoreProblems,
  imageTagProblem,
  makeVariables,
  pinnedImageProblems,
  serviceImageProblems,
  versionPinProblems,
} from './lib/images.js';
import { readIstioOperator } from './lib/istio-install.js';
import { buildCombination, buildDefault, combinations } from './lib/kustomize.js';
import { find } from './lib/objects.js';
import { repoPath } from './lib/repo.js';

const vars = makeVariables();
const dockerfile = readFileSync(repoPath('Dockerfile'), 'utf8');
const contracts = readContracts();
const services = vars.K8S_IMAGES!.split(/\s+/);

describe('pinned image tags', () => {
  for (const combination of combinations()) {
    test(`every image is pinned in ${combination.name}`, () => {
      assert.deepEqual(pinnedImageProblems(buildCombination(combination)), []);
    });
  }

  test('moving or missing tags fail', () => {
    assert.match(imageTagProblem('grafana/grafana:latest')!, /moving tag latest/);
    assert.match(imageTagProblem('redis')!, /no tag/);
    assert.match(imageTagProblem('localhost:5000/redis')!, /no tag/);
    assert.match(imageTagProblem('prom/prometheus:main')!, /moving tag/);
    assert.equal(imageTagProblem('ghcr.io/dragonflydb/dragonfly:v1.31.1'), null);
    assert.equal(imageTagProblem('redis@sha256:0123abcd'), null);
  });

  test('a Deployment on latest fails', () => {
    const objects = buildDefault();
    find(objects, 'Deployment', 'tempo')!.spec.template.spec.containers[0].image = 'grafana/tempo:latest';
    assert.match(pinnedImageProblems(objects).join(), /tempo container tempo: grafana\/tempo:latest/);
  });

  test('Istio and Kubernetes versions are pinned, and the install file does not override the tag', () => {
    assert.deepEqual(versionPinProblems(vars), []);
    assert.equal(readIstioOperator().spec.tag, undefined);
    assert.match(versionPinProblems({ ...vars, ISTIO_VERSION: 'latest' }).join(), /ISTIO_VERSION/);
    assert.match(versionPinProblems({ ...vars, MINIKUBE_K8S_VERSION: 'stable' }).join(), /MINIKUBE_K8S_VERSION/);
  });
});

describe('service images', () => {
  test('the Deployments run what make images builds, named as in docs/contracts.md', () => {
    assert.deepEqual(serviceImageProblems(buildDefault(), vars, dockerfile, contracts.imageNames), []);
    assert.deepEqual(services.map((s) => `recipe-mesh/${s}`).sort(), [...contracts.imageNames].sort());
  });

  test('a Deployment on another tag or name fails', () => {
    const objects = buildDefault();
    find(objects, 'Deployment', 'web-api')!.spec.template.spec.containers[0].image = 'recipe-mesh/webapi:0.1.0';
    const problems = serviceImageProblems(objects, vars, dockerfile, contracts.imageNames).join('\n');
    assert.match(problems, /runs recipe-mesh\/webapi:0\.1\.0, but make images builds/);
    assert.match(problems, /make images builds recipe-mesh\/web-api:0\.1\.0, which no Deployment runs/);
    assert.match(
      serviceImageProblems(buildDefault(), { ...vars, IMAGE_TAG: '0.2.0' }, dockerfile, contracts.imageNames).join(),
      /but make images builds recipe-mesh\/recipe-api:0\.2\.0/,
    );
  });

  test('a pull policy that would look for the image in a registry fails', () => {
    const objects = buildDefault();
    find(objects, 'Deployment', 'recipe-api')!.spec.template.spec.containers[0].imagePullPolicy = 'Always';
    assert.match(serviceImageProblems(objects, vars, dockerfile, contracts.imageNames).join(), /imagePullPolicy/);
  });

  test('a Dockerfile without the target make images asks for fails', () => {
    const renamed = dockerfile.replace(/AS web-api$/m, 'AS webapi');
    assert.match(serviceImageProblems(buildDefault(), vars, renamed, contracts.imageNames).join(), /no target web-api/);
  });
});

describe('Dockerfile', () => {
  test('follows the image rules', () => {
    assert.deepEqual(dockerfileProblems(dockerfile, services), []);
  });

  const bad: [string, (text: string) => string, RegExp][] = [
    [
      'an unpinned Node image',
      (t) => t.replace(/^ARG NODE_IMAGE=.*$/m, 'ARG NODE_IMAGE=node:lts-slim'),
      /NODE_IMAGE node:lts-slim/,
    ],
    [
      'a base image on latest',
      (t) => t.replace(/^ARG NODE_IMAGE=.*$/m, 'ARG NODE_IMAGE=node:latest'),
      /moving tag latest/,
    ],
    [
      'npm start',
      (t) => t.replace(/^ENTRYPOINT .*web-api.*$/m, 'CMD ["npm", "start"]'),
      /npm start|ENTRYPOINT must be/,
    ],
    [
      'a shell-form entrypoint',
      (t) => t.replace(/^ENTRYPOINT .*recipe-api.*$/m, 'ENTRYPOINT node services/recipe-api/dist/main.js'),
      /recipe-api: ENTRYPOINT must be exec form/,
    ],
    [
      'no telemetry flag',
      (t) => t.replace('"--import", "@recipe-mesh/platform/telemetry", "services/web-api', '"services/web-api'),
      /web-api: ENTRYPOINT/,
    ],
    ['root at run time', (t) => t.replace(/^USER 1000:1000$/m, 'USER root'), /not a numeric non-root user/],
    ['a named user', (t) => t.replace(/^USER 1000:1000$/m, 'USER node'), /not a numeric non-root user/],
    ['dev dependencies in the image', (t) => t.replaceAll('npm ci --omit=dev', 'npm ci'), /no npm ci --omit=dev/],
    [
      'an architecture',
      (t) => t.replace(/^FROM \$\{NODE_IMAGE\} AS runtime$/m, 'FROM --platform=linux/amd64 ${NODE_IMAGE} AS runtime'),
      /names an architecture/,
    ],
  ];
  for (const [what, change, expected] of bad) {
    test(`fails with ${what}`, () => {
      const changed = change(dockerfile);
      assert.notEqual(changed, dockerfile, 'the change applies');
      assert.match(dockerfileProblems(changed, services).join('\n'), expected);
    });
  }

  test('.dockerignore keeps node_modules and dist out', () => {
    assert.deepEqual(dockerignoreProblems(readFileSync(repoPath('.dockerignore'), 'utf8')), []);
    assert.match(dockerignoreProblems('**\n!services/**\n').join(), /node_modules may reach/);
    assert.match(dockerignoreProblems('node_modules\n').join(), /dist may reach/);
    assert.match(dockerignoreProblems('**\n**/node_modules\n**/dist\n!services/**\n').join(), /node_modules may reach/);
  });
});
