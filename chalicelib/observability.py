"""Logger and metrics, created once per cold start.

Only `Logger` and `Metrics` from powertools: the tracer pulls in the X-Ray SDK, which the
API path does not need (see design.md, cold start).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

SERVICE = "gamification"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="Gamification", service=SERVICE)
