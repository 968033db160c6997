# beatwatch: the scheduler image for the docker-compose stack.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 BEATWATCH_CONFIG=/app/config/docker.yaml
WORKDIR /app

COPY pyproject.toml README.md ./
COPY crawler crawler
COPY spiders spiders
COPY indexer indexer
COPY alerts alerts
RUN pip install --no-cache-dir . && useradd --create-home --uid 1000 beatwatch \
    && mkdir /data && chown beatwatch /data
COPY config config

USER beatwatch
VOLUME ["/data"]
HEALTHCHECK --interval=60s --timeout=20s --start-period=30s \
    CMD beatwatch status --json > /dev/null || exit 1
STOPSIGNAL SIGTERM
CMD ["beatwatch", "run"]
