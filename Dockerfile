# syntax=docker/dockerfile:1
# A small image for Cloud Run or Kubernetes: compiled JavaScript, production dependencies only,
# onnxruntime's CPU library for this platform only, running as the non-root `node` user.
# Downloaded models go to /tmp (writable by `node`); mount a volume and set MODEL_CACHE_DIR
# to keep them across restarts.

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: nothing here needs an install script (onnxruntime-node's would fetch CUDA).
# The npm cache lives in a BuildKit cache mount, never in a layer.
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:22-bookworm-slim AS runtime
# glibc malloc: blocks of 1 MiB and more (model weights, their prepacked copies, the parsed file)
# get their own mappings and go back to the OS when a session is released; without this glibc
# raises that threshold as buffers are freed, and cycling models through the cache grew RSS to
# 4x what was loaded (README "Memory"). hugetlb=1 backs those mappings with huge pages where the
# kernel allows (THP "madvise"), which keeps loads as fast as before. Same as `npm start`.
ENV GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=1048576 \
    NODE_ENV=production \
    PORT=8080 \
    MODEL_REGISTRY=config/models.yaml \
    MODEL_CACHE_DIR=/tmp/model-gateway-cache
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# Production dependencies only; then drop onnxruntime binaries for other platforms and CPUs.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && ort=node_modules/onnxruntime-node/bin/napi-v6 \
 && arch="$(node -p process.arch)" \
 && find "$ort" -mindepth 1 -maxdepth 1 ! -name linux -exec rm -rf {} + \
 && find "$ort/linux" -mindepth 1 -maxdepth 1 ! -name "$arch" -exec rm -rf {} +
COPY --from=build /app/dist ./dist
COPY config ./config
COPY proto ./proto
USER node
EXPOSE 8080 8081
HEALTHCHECK --interval=30s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/v2/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself, so in-flight requests drain.
# One gateway process per CPU the container may use (PROCESSES=auto, the default: a CPU limit
# such as `docker run --cpus 2` counts, not the host's cores); PROCESSES=1 for a single process.
# The same node command as `npm start` (README "Memory": the young generation may grow to 16 MiB).
CMD ["node", "--max-semi-space-size=16", "dist/server.js"]
