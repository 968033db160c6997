# beatwatch: the scheduler image for the docker-compose stack (docker-compose.yml).
#   docker build -t beatwatch .  &&  docker run --rm beatwatch --help
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BEATWATCH_CONFIG=/app/config/docker.yaml
WORKDIR /app

# The package and its runtime dependencies only (no test extras).
COPY pyproject.toml README.md ./
COPY crawler crawler
COPY spiders spiders
COPY indexer indexer
COPY alerts alerts
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 1000 --user-group beatwatch \
    && mkdir /data \
    && chown beatwatch:beatwatch /data
COPY config config

# Runs as a plain user; relative paths in a config land on the /data volume.
USER beatwatch
WORKDIR /data
VOLUME ["/data"]
HEALTHCHECK --interval=60s --timeout=30s --start-period=30s \
    CMD beatwatch status --json > /dev/null || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["beatwatch"]
CMD ["--config", "/app/config/docker.yaml", "run"]
