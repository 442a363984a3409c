# syntax=docker/dockerfile:1
# energyd in a container: a non-root user, state and plugins in the /config volume.
#   docker build -t energyd .
#   docker run -d --name energyd -v energyd-config:/config energyd
# or, with a broker beside it: docker compose -f docker/docker-compose.yml up -d
# The base image follows Python 3.11 patch releases on Debian bookworm; pin a digest
# (python:3.11-slim-bookworm@sha256:...) for byte-for-byte reproducible builds.

# -- build: a virtual environment in /opt/energyd with energyd and its dependencies ---------
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/energyd
COPY pyproject.toml README.md ./
COPY energyd ./energyd
COPY bundled_config ./bundled_config
RUN /opt/energyd/bin/pip install --no-cache-dir . \
    && /opt/energyd/bin/energyd --version

# -- run -------------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm
ARG ENERGYD_UID=10001
RUN groupadd --system --gid "${ENERGYD_UID}" energyd \
    && useradd --system --uid "${ENERGYD_UID}" --gid energyd --home-dir /config \
        --no-create-home --shell /usr/sbin/nologin energyd \
    && install -d -o energyd -g energyd -m 0750 /config
COPY --from=build /opt/energyd /opt/energyd
COPY docker/energyd.toml /opt/energyd/share/energyd.toml
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/energyd-entrypoint

# Settings come from /config/energyd.toml (copied from the example on first start) and from
# ENERGYD_* variables, which win over the file. The HTTP server answers the health check.
# ENERGYD_INSTANCE names this energyd in its MQTT client id and Home Assistant unique ids: a
# container's host name changes whenever it is re-created, so the image fixes one (give a
# second container on the same broker its own).
ENV PATH=/opt/energyd/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENERGYD_CONFIG_DIR=/config \
    ENERGYD_CONFIG=/config/energyd.toml \
    ENERGYD_INSTANCE=energyd \
    ENERGYD_EXAMPLE_CONFIG=/opt/energyd/share/energyd.toml \
    ENERGYD_HTTP__ENABLED=true \
    ENERGYD_HTTP__HOST=0.0.0.0 \
    ENERGYD_HTTP__PORT=8765 \
    ENERGYD_LOG__FORMAT=json

VOLUME /config
WORKDIR /config
EXPOSE 8765
USER ${ENERGYD_UID}:${ENERGYD_UID}

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('ENERGYD_HTTP__PORT', '8765') + '/healthz', timeout=4)"]

ENTRYPOINT ["energyd-entrypoint"]
CMD ["run"]
