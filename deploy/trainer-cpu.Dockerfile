# syntax=docker/dockerfile:1
# The training job on CPU: apps/trainer run unchanged (TypeScript through tsx, PyTorch core through
# python3 -m mlops_trainer). The build context is the repository root:
#   docker build -f deploy/trainer-cpu.Dockerfile -t mlops-trainer:cpu .
#   docker run -e MLOPS_STORE=gs://bucket/mlops mlops-trainer:cpu --data store:datasets/train.jsonl.gz --run-id r1
# The launcher (libs/jobs) passes the job's arguments; they follow the ENTRYPOINT.

FROM node:20-slim AS node

# Production node_modules of the workspace (tsx comes with @mlops/cli's dependencies), linux-x64 binaries only.
FROM node:20-slim AS deps
ENV ONNXRUNTIME_NODE_INSTALL=skip \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
WORKDIR /repo
COPY . .
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --loglevel=error \
 && npx tsx tools/build/src/main.ts prune node_modules

FROM python:3.11-slim
# The CPU wheel from PyTorch's own index: the default PyPI wheel pulls ~2.5 GB of CUDA libraries.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.5.1 \
 && pip install --no-cache-dir numpy==2.1.3
# Node 20 from the official image: the same Debian (bookworm) as python:3.11-slim.
COPY --from=node /usr/local/bin/node /usr/local/bin/node
RUN groupadd --gid 10001 trainer && useradd --uid 10001 --gid trainer --create-home --shell /usr/sbin/nologin trainer
WORKDIR /app
COPY --from=deps /repo /app
ENV NODE_ENV=production \
    MLOPS_PYTHON=/usr/local/bin/python3 \
    MLOPS_CACHE_DIR=/tmp/mlops-cache \
    PYTHONDONTWRITEBYTECODE=1
USER trainer
ENTRYPOINT ["node", "--import", "tsx", "apps/trainer/src/main.ts"]
