# lims API image. Build: docker build -t lims .   Run: see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# lims/db/migrate.py finds alembic.ini and migrations/ at Path(__file__).parents[2], and
# lims/labels.py finds labels/ next to the package: keep the repository layout in /app and
# install editable, so `lims` is imported from /app/lims, not from site-packages.
WORKDIR /app

RUN groupadd --system lims && useradd --system --gid lims --home-dir /app --no-create-home lims

# Dependencies first (their own layer: rebuilt only when pyproject.toml changes).
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY alembic.ini ./
COPY migrations/ ./migrations/
COPY labels/ ./labels/
COPY lims/ ./lims/
RUN pip install --no-cache-dir -e . \
    && mkdir -p /app/var \
    && chown lims:lims /app/var

# The default SQLite database (./var/lims.db) is the only thing written at run time.
USER lims

EXPOSE 8000

CMD ["lims", "serve", "--host", "0.0.0.0", "--port", "8000"]
