# One image for every lab process; docker-compose.yml picks the entry point per service.
FROM node:20-bookworm-slim
WORKDIR /lab
# svc-eval: python3 runs HumanEval samples in its sandbox (util-linux's unshare and setpriv; the container
# needs CAP_SYS_ADMIN for the namespaces, or the sandbox refuses to run), WordNet for METEOR's synonyms, gcc
# for the engine's CPU decoding kernel (engine/native; without it CPU decoding goes through ORT's Gemm).
RUN apt-get update && apt-get install -y --no-install-recommends python3 util-linux wordnet-base gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
# CUDA builds of ONNX Runtime for the GPU services; set to "skip" for a CPU-only image.
ARG ONNXRUNTIME_NODE_INSTALL=cuda12
ENV ONNXRUNTIME_NODE_INSTALL=${ONNXRUNTIME_NODE_INSTALL}
COPY package.json package-lock.json ./
COPY proto/package.json proto/
COPY common/package.json common/
COPY engine/package.json engine/
COPY tokenizer/package.json tokenizer/
COPY svc-tokenize/package.json svc-tokenize/
COPY svc-data/package.json svc-data/
COPY svc-train/package.json svc-train/
COPY svc-infer/package.json svc-infer/
COPY svc-eval/package.json svc-eval/
COPY gateway/package.json gateway/
COPY web/package.json web/
COPY supervisor/package.json supervisor/
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build
ENV LAB_HOME=/data LAB_HOST=0.0.0.0
VOLUME /data
