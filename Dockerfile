# Qorgau help-line bot. Build: docker build -t qorgau .
# Run:   docker run --env-file .env -v qorgau-data:/data -p 8443:8443 qorgau
# The image holds a normal (non-editable) install of the package, with every dependency at
# the version and hash pinned in requirements.lock. The bot runs as an unprivileged user in
# /data, a volume: SQLite's default DATABASE_URL (sqlite+aiosqlite:///helpline.db, a path
# relative to the working directory) puts the database there.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.lock /tmp/qorgau/requirements.lock
RUN pip install --require-hashes --no-deps -r /tmp/qorgau/requirements.lock
COPY . /tmp/qorgau/src
RUN pip install --no-deps /tmp/qorgau/src \
    && rm -rf /tmp/qorgau \
    && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin qorgau \
    && mkdir -p /data && chown qorgau:qorgau /data && chmod 700 /data

USER qorgau
WORKDIR /data
VOLUME /data
EXPOSE 8443
# Webhook mode: the bot's own /healthz; polling: the database answers and the outbox moves.
HEALTHCHECK --interval=60s --timeout=15s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bot", "health"]
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
