# syntax=docker/dockerfile:1
# One image for any of the five functions; the build context is the repository root:
#   docker build -f deploy/functions.Dockerfile --build-arg FUNCTION=predict -t mlops-predict .
#   docker run -p 8080:8080 -e MLOPS_STORE=gs://bucket/mlops mlops-predict
# HOST=node (default) is the Cloud Run entry and what ENTRYPOINT starts. HOST=cloud-function builds
# the same folder for the Functions Framework: run it with `--entrypoint npm <image> start`
# (package.json's start script is `functions-framework --target=<FUNCTION> --source=index.mjs`).
# For Lambda ship the folder as a zip (or use the AWS Lambda Node base image): this image has no
# Lambda runtime interface client.

# Stage 1: the repo, its dev tools, the bundler; then the bundle's externals alone, pruned to linux-x64.
FROM node:20-slim AS build
# onnxruntime-node's install script would otherwise download CUDA providers (hundreds of MB) on linux-x64.
ENV ONNXRUNTIME_NODE_INSTALL=skip \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
WORKDIR /repo
COPY . .
RUN --mount=type=cache,target=/root/.npm npm ci --loglevel=error
ARG FUNCTION
ARG HOST=node
RUN case "$FUNCTION" in predict|batch-score|evaluate|retrain-trigger|promote) ;; \
      *) echo "build with --build-arg FUNCTION=predict|batch-score|evaluate|retrain-trigger|promote (got '$FUNCTION')" >&2; exit 1 ;; esac
RUN case "$HOST" in node|cloud-function|lambda) ;; \
      *) echo "HOST must be node, cloud-function or lambda (got '$HOST')" >&2; exit 1 ;; esac
# Bundled outside /repo so npm in the function folder never takes the workspace root for its project.
RUN npx tsx tools/build/src/main.ts "$FUNCTION" --host "$HOST" --out /out \
 && mv "/out/$FUNCTION/$HOST" /function
RUN --mount=type=cache,target=/root/.npm cd /function && npm install --omit=dev --no-package-lock --loglevel=error
# onnxruntime-node alone is ~288 MB with every platform; linux-x64 keeps ~45 MB.
RUN npx tsx tools/build/src/main.ts prune /function/node_modules

# Stage 2: only the function folder (index.mjs, package.json, node_modules with linux-x64 binaries).
# node:20-slim rather than distroless: the same Debian (glibc, libstdc++) the native addons were
# installed against, the `node` user and a `node` on PATH for the ENTRYPOINT below.
FROM node:20-slim
ENV NODE_ENV=production \
    PORT=8080 \
    MLOPS_CACHE_DIR=/tmp/mlops-cache
WORKDIR /app
# Owned by root and read-only for the process: the function writes only to /tmp (model cache).
COPY --from=build /function /app
USER node
EXPOSE 8080
ENTRYPOINT ["node", "index.mjs"]
