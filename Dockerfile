# The image runs the wheel, as `pip install` ships it: the sources stay in the build stage.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY policies ./policies
COPY schema ./schema
COPY server ./server
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && groupadd --system --gid 10001 business-api \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data business-api \
    && mkdir /data \
    && chown 10001:10001 /data

# Settings come from the environment: BUSINESS_API_SECRET_KEY (required), then
# BUSINESS_API_DATABASE_URL, BUSINESS_API_REDIS_URL, …; see the README. Without a
# database URL the store is SQLite in the volume. Run `business-api migrate` once per
# release before starting new servers.
ENV BUSINESS_API_DATABASE_URL=sqlite+aiosqlite:////data/business-api.db \
    PYTHONUNBUFFERED=1
VOLUME /data
WORKDIR /data
# Numeric, so that an orchestrator can tell it is not root without reading /etc/passwd.
USER 10001:10001

EXPOSE 8000
# Healthy = ready: /readyz answers 200 only while the store (at this version's schema),
# Redis (when configured) and the policy are usable; 503 otherwise. The slim image has no
# curl: Python's own client asks (a 503 or no answer exits non-zero).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
CMD ["business-api", "serve", "--host", "0.0.0.0", "--port", "8000"]
