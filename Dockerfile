# nightowl: one image for `nightowl serve` and `nightowl worker` (docs/deploy.md).
#
#   docker build -t nightowl:0.1.0 .
#   docker run --rm -p 8080:8080 --env-file .env -e NIGHTOWL_HOST=0.0.0.0 \
#     -v nightowl-data:/var/lib/nightowl nightowl:0.1.0            # serve, SQLite in the volume
#
# The base is pinned to a Python patch release on Debian 12; pin it to a digest too with
# --build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:... for reproducible builds.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# ---- build: the package and its dependencies in a virtualenv --------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/nightowl
WORKDIR /src
# Only what the package is built from (.dockerignore keeps the rest out of the context).
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY agents ./agents
COPY scheduler ./scheduler
COPY integrations ./integrations
COPY storage ./storage
COPY evals ./evals
# A wheel, not an editable install: the runtime stage gets site-packages and no source tree.
# Every dependency ships manylinux wheels (amd64 and arm64), so no compiler is needed here
# either; pip compiles the bytecode now, because the running container cannot write it.
RUN /opt/nightowl/bin/pip install . \
 && /opt/nightowl/bin/pip uninstall --yes pip setuptools

# ---- runtime ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# git: the Dev agent clones, blames and branches repositories. tini: PID 1 that reaps the
# test commands the Dev agent's sandbox starts and forwards SIGTERM to nightowl. Debian's
# versions are not pinned: bookworm's security updates replace them, and a pin would break
# the build the day they do.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install --yes --no-install-recommends git tini \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 nightowl \
 && useradd --uid 10001 --gid nightowl --no-log-init --no-create-home \
      --home-dir /var/lib/nightowl --shell /usr/sbin/nologin nightowl \
 && install -d -o nightowl -g nightowl -m 0750 /var/lib/nightowl
COPY --from=build /opt/nightowl /opt/nightowl

# The state directory is the working directory: .env.example's relative defaults
# (sqlite:///./nightowl.db, ./.nightowl/dev) land in the volume mounted here. HOME is there
# too, for git. NIGHTOWL_HOST: inside a container, listen beyond loopback.
ENV PATH=/opt/nightowl/bin:$PATH \
    HOME=/var/lib/nightowl \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NIGHTOWL_HOST=0.0.0.0 \
    NIGHTOWL_PORT=8080
WORKDIR /var/lib/nightowl
USER 10001:10001
EXPOSE 8080

# `serve` answers /healthz (503 when its database is unreachable). A worker has no HTTP port:
# docker-compose.yml turns this check off for it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('NIGHTOWL_PORT', '8080'), timeout=4)"]

ENTRYPOINT ["tini", "--", "nightowl"]
CMD ["serve"]
