# One image for every service of the stack, built from the same lock file as `make setup`.
# docker compose (compose.yaml) runs each service from it with the same entry points as
# scripts/stack.py. Rasa 3.6 needs Python 3.10.

# The web widget's script, built from its lock file as scripts/setup.sh builds it.
FROM node:20-bookworm-slim AS widget
WORKDIR /web
COPY channels/widget/web/package.json channels/widget/web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY channels/widget/web/ ./
RUN npm run build

FROM python:3.10-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    RASA_TELEMETRY_ENABLED=false \
    TF_CPP_MIN_LOG_LEVEL=2

WORKDIR /app
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, so code changes do not reinstall them. Same commands as scripts/setup.sh.
COPY requirements.lock ./
RUN python -m pip install --quiet --disable-pip-version-check "pip==24.0" \
    && python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock \
    && python -m pip check

COPY . .
COPY --from=widget /web/dist channels/widget/web/dist
# The model is trained at build time by the same script `make setup` uses.
RUN python scripts/train.py --if-needed

RUN useradd --create-home --uid 10001 assistant && chown -R assistant /app
USER assistant

# Secrets (RASA_TOKEN, ACTION_SERVER_TOKEN, ORDERS_TOKEN, RECORDS_TOKEN, and for Rasa the
# WECHAT_*, WECOM_*, WIDGET_* settings and IVR_TOKEN of credentials.yml) come from the environment at run time; no default
# is baked in, and Rasa does not start without them.
CMD ["sh", "-c", "exec python -m rasa_server run --enable-api --auth-token \"${RASA_TOKEN:?RASA_TOKEN is not set}\" --model bot/models/aftersales.tar.gz --endpoints endpoints.yml --credentials credentials.yml --port 5005"]
