# syntax=docker/dockerfile:1
# One file, one target per service:
#   docker build --target recipe-api -t recipe-mesh/recipe-api:0.1.0 .
#   docker build --target web-api    -t recipe-mesh/web-api:0.1.0 .
# (`make images` builds both into minikube's Docker.) Nothing here names an architecture: the
# Node image is multi-arch and every dependency is JavaScript, so the same file builds on amd64
# and arm64 (Apple Silicon) minikube.
#
# Node 24 is an LTS line (maintenance since October 2026, supported to April 2028) and keeps
# server.keepAliveTimeout at 5 s, the default the 503 UC incident is about; Node 26 raised it
# to 65 s (nodejs/node#62782). Override with --build-arg NODE_IMAGE=… to compare.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# ---- build: every dependency, then TypeScript -> services/*/dist -------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# The lockfile covers every workspace, so npm ci needs every workspace's package.json.
COPY package.json package-lock.json tsconfig.base.json tsconfig.build.json ./
COPY services/platform/package.json services/platform/
COPY services/recipe-api/package.json services/recipe-api/
COPY services/web-api/package.json services/web-api/
COPY measure/package.json measure/
COPY lab/package.json lab/
COPY experiments/package.json experiments/
COPY contracts/package.json contracts/
COPY grafana/package.json grafana/
COPY k8s/package.json k8s/
RUN npm ci --no-audit --no-fund --ignore-scripts
# The protobuf code is generated from proto/ ahead of time and committed (scripts/gen-proto.ts).
COPY services/ services/
# Project references build platform first; lab and experiments are not part of an image.
RUN npx tsc -b services/recipe-api services/web-api

# ---- production dependencies of one service and the platform it imports ----------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY services/platform/package.json services/platform/
COPY services/recipe-api/package.json services/recipe-api/
COPY services/web-api/package.json services/web-api/
COPY measure/package.json measure/
COPY lab/package.json lab/
COPY experiments/package.json experiments/
COPY contracts/package.json contracts/
COPY grafana/package.json grafana/
COPY k8s/package.json k8s/

# @grpc/grpc-js declares @grpc/proto-loader (with protobufjs and yargs under it) but requires it only
# to serve channelz or report ORCA load (grpc/grpc-js packages/grpc-js/src/channelz.ts and orca.ts load
# it lazily, "to avoid loading @grpc/proto-loader at runtime for users who will not use/enable" them).
# The services do neither and speak protobuf through @bufbuild/protobuf (services/platform/src/grpc/),
# so each image drops that tree. k8s/test/image-rehearsal.test.ts derives the tree from the lockfile,
# checks that no image holds any of it, and starts both services, which answer gRPC without it.
FROM deps AS deps-recipe-api
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts --include-workspace-root=false \
      --workspace=@recipe-mesh/platform --workspace=@recipe-mesh/recipe-api
RUN rm -r node_modules/@grpc/proto-loader node_modules/protobufjs node_modules/@protobufjs node_modules/long \
      node_modules/lodash.camelcase node_modules/yargs node_modules/yargs-parser node_modules/cliui node_modules/wrap-ansi \
      node_modules/escalade node_modules/get-caller-file node_modules/require-directory node_modules/y18n

FROM deps AS deps-web-api
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts --include-workspace-root=false \
      --workspace=@recipe-mesh/platform --workspace=@recipe-mesh/web-api
RUN rm -r node_modules/@grpc/proto-loader node_modules/protobufjs node_modules/@protobufjs node_modules/long \
      node_modules/lodash.camelcase node_modules/yargs node_modules/yargs-parser node_modules/cliui node_modules/wrap-ansi \
      node_modules/escalade node_modules/get-caller-file node_modules/require-directory node_modules/y18n

# ---- runtime: what both services share ----------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/services/platform/package.json services/platform/
COPY --from=build /app/services/platform/dist services/platform/dist/
# Numeric, so Kubernetes can check runAsNonRoot: the node user of the official image.
USER 1000:1000

# ---- recipe-api ---------------------------------------------------------------------------------
FROM runtime AS recipe-api
COPY --from=build /app/services/recipe-api/package.json services/recipe-api/
COPY --from=build /app/services/recipe-api/dist services/recipe-api/dist/
COPY --from=deps-recipe-api /app/node_modules node_modules/
EXPOSE 4000 4001 9465
# Node is PID 1 (no npm, no shell) so SIGTERM reaches the service's graceful shutdown; telemetry
# loads before main through --import (docs/contracts.md).
ENTRYPOINT ["node", "--import", "@recipe-mesh/platform/telemetry", "services/recipe-api/dist/main.js"]

# ---- web-api ------------------------------------------------------------------------------------
FROM runtime AS web-api
COPY --from=build /app/services/web-api/package.json services/web-api/
COPY --from=build /app/services/web-api/dist services/web-api/dist/
COPY --from=deps-web-api /app/node_modules node_modules/
EXPOSE 3000 9464
ENTRYPOINT ["node", "--import", "@recipe-mesh/platform/telemetry", "services/web-api/dist/main.js"]
