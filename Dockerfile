FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY policies ./policies
COPY schema ./schema
COPY server ./server
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 business-api
USER business-api

ENV BUSINESS_API_POLICY=/app/policies/business-api.toml
EXPOSE 8000
# Settings come from the environment: BUSINESS_API_SECRET_KEY, BUSINESS_API_DATABASE_URL, …
# Run `business-api migrate` once per release before starting new servers.
CMD ["business-api", "serve", "--host", "0.0.0.0", "--port", "8000"]
