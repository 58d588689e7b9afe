# The dashboard's chart library and Chinese font (metrics serves them itself: no CDN), installed
# from npm exactly as services/metrics/package-lock.json pins them.
FROM node:20-bookworm-slim AS dashboard-assets
WORKDIR /web
COPY services/metrics/package.json services/metrics/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

# Swagger UI and ReDoc, which every service serves at /docs and /redoc (no CDN either).
FROM node:20-bookworm-slim AS docs-assets
WORKDIR /web
COPY libs/platform/package.json libs/platform/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

# The console (web/console), type-checked and built by Vite into static files.
FROM node:20-bookworm-slim AS console-build
WORKDIR /web
COPY web/console/package.json web/console/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/console ./
RUN npm run build

# The front door: the official nginx image with the console's files and our configuration
# (infra/nginx/huigong.conf, whose @…@ values docker-compose.yml fills in at start).
FROM nginx:1.28-bookworm AS frontdoor
COPY --from=console-build /web/dist /usr/share/huigong/console
COPY infra/nginx/huigong.conf /etc/huigong/nginx.conf.template

# The record-tag check in C (libs/events/huigong_events/_tagcheck.c), compiled against the same
# Python as the services' image: the full image has gcc and OpenSSL's headers, the slim one only
# the libcrypto it links to.
FROM python:3.11-bookworm AS tagcheck
WORKDIR /build
COPY libs/events/huigong_events/_tagcheck.c libs/events/huigong_events/build_tagcheck.py ./
RUN python build_tagcheck.py

# One image for all four services and the set-up job; the command picks which one runs.
FROM python:3.11-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_PROJECT_ENVIRONMENT=/opt/venv UV_COMPILE_BYTECODE=1
RUN pip install --no-cache-dir uv==0.13.8
# The Chinese font the registry embeds in certificate PDFs (HUIGONG_CERTIFICATE_FONT).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Dependencies first (cached layer), then the project itself.
COPY pyproject.toml uv.lock ./
COPY libs/events/pyproject.toml libs/events/pyproject.toml
COPY libs/platform/pyproject.toml libs/platform/pyproject.toml
COPY libs/ops/pyproject.toml libs/ops/pyproject.toml
COPY services/intake/pyproject.toml services/intake/pyproject.toml
COPY services/review/pyproject.toml services/review/pyproject.toml
COPY services/registry/pyproject.toml services/registry/pyproject.toml
COPY services/metrics/pyproject.toml services/metrics/pyproject.toml
# The simulator and the test kit are workspace members the lock knows, but development
# dependencies: only their pyprojects come in, so that uv resolves the workspace; --no-dev
# leaves them out of the image.
COPY tools/simulator/pyproject.toml tools/simulator/pyproject.toml
COPY tools/testkit/pyproject.toml tools/testkit/pyproject.toml
RUN uv sync --frozen --no-dev --no-install-workspace
COPY libs libs
COPY --from=tagcheck /build/_tagcheck.*.so libs/events/huigong_events/
COPY services services
COPY --from=dashboard-assets /web/node_modules services/metrics/node_modules
COPY --from=docs-assets /web/node_modules libs/platform/node_modules
RUN uv sync --frozen --no-dev
ENV PATH=/opt/venv/bin:$PATH
RUN useradd --system --uid 10001 huigong
USER huigong
