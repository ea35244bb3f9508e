# Services image: sandbox, handoff, broadcasts (Python 3.11, from requirements/services.lock).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PYTHONPATH=/app
COPY requirements/services.lock requirements/services.lock
RUN pip install --no-cache-dir --no-deps -r requirements/services.lock
COPY connectors connectors
COPY observability observability
COPY handoff handoff
COPY broadcasts broadcasts
COPY sandbox sandbox
USER 1000:1000
# The compose file picks the module: python -m handoff | broadcasts | sandbox
CMD ["python", "-m", "handoff"]
