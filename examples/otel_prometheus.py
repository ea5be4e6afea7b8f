"""jwtgate's OpenTelemetry metrics, scraped by Prometheus (docs/observability.md).

The app configures the OpenTelemetry SDK with a Prometheus reader, as any app
does; jwtgate only needs ``"TELEMETRY": True`` (and ``pip install 'jwtgate[otel]'``).
Run it: ``python examples/otel_prometheus.py 9464`` serves /metrics on port 9464,
sends a few requests through a protected WSGI app and prints what Prometheus sees.
"""

from __future__ import annotations

import sys
import time
import urllib.request

import jwt
from opentelemetry import metrics
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import start_http_server
from werkzeug.test import Client

from jwtgate.wsgi import JWTGateMiddleware

SECRET = "example-secret-for-the-docs-only-0123456789"
SETTINGS = {"SECRET": SECRET, "TELEMETRY": True, "PUBLIC_PATHS": ["/health"]}


def hello(environ: dict[str, object], start_response: object) -> list[bytes]:
    start_response("200 OK", [("content-type", "text/plain")])  # type: ignore[operator]
    return [b"hello\n"]


def main(port: int) -> str:
    metrics.set_meter_provider(MeterProvider(metric_readers=[PrometheusMetricReader()]))
    start_http_server(port, addr="127.0.0.1")
    app = Client(JWTGateMiddleware(hello, SETTINGS))
    now = int(time.time())
    token = jwt.encode({"sub": "alice", "iat": now, "exp": now + 300}, SECRET, "HS256")
    app.get("/api", headers={"Authorization": f"Bearer {token}"})
    app.get("/api", headers={"Authorization": f"Bearer {token}"})
    app.get("/api")
    app.get("/health")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as scrape:
        text: str = scrape.read().decode()
    return "\n".join(line for line in text.splitlines() if line.startswith("jwtgate_"))


if __name__ == "__main__":
    print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 9464))
