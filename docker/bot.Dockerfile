# Bot image: rasa 3.6.21 + the WhatsApp connector + actions (Python 3.10, from requirements/bot.lock).
FROM python:3.10-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PYTHONPATH=/app TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1
COPY requirements/bot.lock requirements/bot.lock
RUN pip install --no-cache-dir --no-deps -r requirements/bot.lock
COPY connectors connectors
COPY observability observability
COPY bot bot
# Train at build time with the production config; the model hash is cached in bot/models.
RUN python bot/train.py --config prod --out bot/models
USER 1000:1000
CMD ["sh", "-c", "python -m rasa run --model bot/models --credentials bot/credentials.yml --endpoints bot/endpoints.yml --port 5005 --enable-api --auth-token \"$RASA_TOKEN\""]
