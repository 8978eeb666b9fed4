# fraudgate engine image: the locked environment, a non-root user, `fraudgate serve`.
# Build: docker build -t fraudgate .   Run: see docker-compose.yml (Redis, keys and model come from outside).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

RUN pip install --no-cache-dir uv \
    && groupadd --system --gid 10001 fraudgate \
    && useradd --system --uid 10001 --gid fraudgate --home-dir /app --shell /usr/sbin/nologin fraudgate

WORKDIR /app
# dependencies first (a layer that changes only with the lock file), then the code
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY engine ./engine
COPY features ./features
COPY models ./models
COPY rules ./rules
COPY loadtest ./loadtest
COPY policies ./policies
RUN uv sync --frozen --no-dev && mkdir -p /app/var && chown -R fraudgate:fraudgate /app/var

USER 10001:10001
ENV PATH=/app/.venv/bin:$PATH \
    FRAUDGATE_HOST=0.0.0.0 \
    FRAUDGATE_PORT=8000 \
    FRAUDGATE_DATA_DIR=/app/var
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=2s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=1).status != 200)"
CMD ["fraudgate", "serve"]
