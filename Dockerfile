# DeskPilot in a container. Not built or run by this project's CI (it has no container
# runtime): the systemd units in deploy/ are the tested path; this image runs the same
# commands. docker compose (compose.yaml) adds PostgreSQL and Redis.
FROM python:3.11-slim-bookworm

# pg_dump/pg_restore for `run.py backup` and `restore` on PostgreSQL.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --system --create-home --home-dir /opt/deskpilot deskpilot
WORKDIR /opt/deskpilot

COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY --chown=deskpilot:deskpilot . .
RUN mkdir -p /var/lib/deskpilot && chown deskpilot:deskpilot /var/lib/deskpilot

USER deskpilot
ENV HOST=0.0.0.0 \
    PORT=5000 \
    DESKPILOT_INSTANCE_DIR=/var/lib/deskpilot \
    PYTHONUNBUFFERED=1
VOLUME ["/var/lib/deskpilot"]
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:5000/healthz', timeout=4).status == 200 else 1)"
CMD ["python", "run.py", "serve"]
