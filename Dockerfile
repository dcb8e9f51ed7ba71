# Ballast's production image: `ballast serve` on 0.0.0.0:8080 as a non-root user, state in the
# /var/lib/ballast volume (SQLite file and artifacts; artifacts only with --store postgres://…).
#
#   podman build -t ballast .        (or: docker build -t ballast .; buildah bud -t ballast .)
#   podman run -p 8080:8080 -v ballast-data:/var/lib/ballast ballast
#   podman run -p 8080:8080 ballast serve --host 0.0.0.0 --model fraud=/app/examples/fraud/model/fraud-logreg.json
#
# Two stages: `build` has the compilers and devDependencies (TypeScript) and compiles dist/;
# the runtime stage gets dist/ and node_modules pruned to production dependencies, nothing else.
ARG NODE_IMAGE=docker.io/library/node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
# better-sqlite3 is compiled by node-gyp when no prebuilt binary can be downloaded; the headers
# are the image's own (nodedir), so the build needs no download besides the npm registry.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local
# Behind a TLS-intercepting proxy: the path of its CA bundle, mounted into the build (podman
# build -v bundle:path:ro --build-arg NODE_EXTRA_CA_CERTS=path). Build stage only.
ARG NODE_EXTRA_CA_CERTS
WORKDIR /app
COPY package.json package-lock.json ./
# No lifecycle scripts on install: the package's own `prepare` needs src/ (copied below), and
# onnxruntime-node's postinstall only downloads optional GPU libraries (package.json's
# allowScripts turns it off too): its CPU binaries ship inside the npm package.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build
# Production dependencies only, then the one native build they need.
RUN npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3 \
 && node -e "new (require('better-sqlite3'))(':memory:').close()"
# onnxruntime-node ships binaries for every platform (about 290 MB); keep this one's.
RUN arch="$(node -p process.arch)" \
 && find node_modules/onnxruntime-node/bin/napi-v6 -mindepth 2 -maxdepth 2 -type d \
      ! -path "*/linux/${arch}" -exec rm -rf {} + \
 && node -e "require('onnxruntime-node')"

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    BALLAST_DATA_DIR=/var/lib/ballast
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY examples/fraud/model ./examples/fraud/model
# The official Node image's `node` user (uid 1000), numeric so that Kubernetes' runAsNonRoot can
# check it. The data folder is created owned by it, so a fresh volume starts writable.
RUN mkdir -p /var/lib/ballast && chown 1000:1000 /var/lib/ballast
USER 1000:1000
VOLUME /var/lib/ballast
EXPOSE 8080
# Liveness, with Node itself (the slim image has no curl), on port 8080: serving on another port
# needs --health-cmd at run time. Readiness (/v2/health/ready) is for load balancers: it answers
# 503 while a deployment is not serving, which is no reason to restart.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/v2/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/bin/ballast.js"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
