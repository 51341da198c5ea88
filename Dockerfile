# carework in a container. With no DATABASE_URL it runs its embedded PostgreSQL in /data;
# in production, point DATABASE_URL at a managed PostgreSQL and run `carework migrate` first.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CAREWORK_DATA_DIR=/data

RUN useradd --create-home --uid 10001 carework \
    && mkdir -p /data && chown carework:carework /data

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY src ./src
COPY migrations ./migrations
RUN pip install --no-cache-dir .

USER carework
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
ENTRYPOINT ["carework"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
