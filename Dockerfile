# fraudgate engine image: the locked environment, a non-root user, `fraudgate serve`.
# Build: docker build -t fraudgate .   Run: see docker-compose.yml (Redis, keys and model come from outside).
# The compiled model stage (models/_forest.c), built where a compiler is and copied into its cache below: the
# runtime image needs no compiler (models/native.py finds the build by the hash of source, ABI and compiler).
FROM python:3.11-slim AS native
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY models/_forest.c models/native.py /build/models/
RUN FRAUDGATE_NATIVE_CACHE=/native python -c "import importlib.util as u; \
s = u.spec_from_file_location('native', '/build/models/native.py'); m = u.module_from_spec(s); \
s.loader.exec_module(m); assert m.load() is not None, 'the model stage did not compile'"

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
COPY --from=native /native /app/native

USER 10001:10001
ENV PATH=/app/.venv/bin:$PATH \
    FRAUDGATE_HOST=0.0.0.0 \
    FRAUDGATE_PORT=8000 \
    FRAUDGATE_DATA_DIR=/app/var \
    FRAUDGATE_NATIVE_CACHE=/app/native
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=2s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=1).status != 200)"
CMD ["fraudgate", "serve"]
