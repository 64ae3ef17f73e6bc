# Qorgau help-line bot. Build: docker build -t qorgau .
# Run:   docker run --env-file .env -v qorgau-data:/data -p 8443:8443 qorgau
FROM python:3.11-slim

WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite+aiosqlite:////data/helpline.db
COPY pyproject.toml README.md babel.cfg alembic.ini ./
COPY bot bot
COPY handlers handlers
COPY models models
COPY locales locales
RUN pip install --no-cache-dir . \
    && pybabel compile -d locales -D messages \
    && useradd --system --home /data qorgau && mkdir -p /data && chown qorgau /data
USER qorgau
VOLUME /data
EXPOSE 8443
CMD ["python", "-m", "bot"]
