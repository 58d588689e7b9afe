# The dashboard's chart library and Chinese font (metrics serves them itself: no CDN), installed
# from npm exactly as services/metrics/package-lock.json pins them.
FROM node:20-bookworm-slim AS dashboard-assets
WORKDIR /web
COPY services/metrics/package.json services/metrics/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

# One image for all four services and the set-up job; the command picks which one runs.
FROM python:3.11-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_PROJECT_ENVIRONMENT=/opt/venv UV_COMPILE_BYTECODE=1
RUN pip install --no-cache-dir uv==0.13.8
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
COPY services services
COPY --from=dashboard-assets /web/node_modules services/metrics/node_modules
RUN uv sync --frozen --no-dev
ENV PATH=/opt/venv/bin:$PATH
RUN useradd --system --uid 10001 huigong
USER huigong
