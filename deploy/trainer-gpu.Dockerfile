# syntax=docker/dockerfile:1
# The training job on GPU (CUDA, mixed precision): the same apps/trainer code as trainer-cpu.Dockerfile,
# on PyTorch's CUDA runtime image (torch + numpy in /opt/conda). The build context is the repository root:
#   docker build -f deploy/trainer-gpu.Dockerfile -t mlops-trainer:gpu .
#   docker run --gpus all -e MLOPS_STORE=gs://bucket/mlops mlops-trainer:gpu --data store:datasets/train.jsonl.gz

FROM node:20-slim AS node

FROM node:20-slim AS deps
ENV ONNXRUNTIME_NODE_INSTALL=skip \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
WORKDIR /repo
COPY . .
# The ONNX parity check runs onnxruntime-node on CPU, so no CUDA providers are fetched or kept.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --loglevel=error \
 && npx tsx tools/build/src/main.ts prune node_modules

FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime
# Node 20's official binary needs glibc >= 2.28; this Ubuntu 22.04 base has 2.35.
COPY --from=node /usr/local/bin/node /usr/local/bin/node
RUN groupadd --gid 10001 trainer && useradd --uid 10001 --gid trainer --create-home --shell /usr/sbin/nologin trainer
WORKDIR /app
COPY --from=deps /repo /app
ENV NODE_ENV=production \
    MLOPS_PYTHON=/opt/conda/bin/python \
    MLOPS_CACHE_DIR=/tmp/mlops-cache \
    PYTHONDONTWRITEBYTECODE=1
USER trainer
ENTRYPOINT ["node", "--import", "tsx", "apps/trainer/src/main.ts"]
