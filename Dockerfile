# camctl's image: the controller only. MediaMTX and ffmpeg run in their own container
# (bluenviron/mediamtx:1.20.1-ffmpeg), beside it in the same pod (manifests/base).
#   docker build -t ghcr.io/camctl/camctl:0.1.0 .
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY controller ./controller
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11.11-slim-bookworm
# pyudev loads libudev at run time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libudev1 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-compile /wheels/*.whl && rm -rf /wheels
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# The same unprivileged user the DaemonSet runs as; the root filesystem can be read-only.
USER 65532:65532
ENTRYPOINT ["camctl"]
CMD ["run", "--kubernetes"]
