"""Logger and metrics, created once per cold start.

Only `Logger` and `Metrics` from powertools: the tracer pulls in the X-Ray SDK, which the
API path does not need (see design.md, cold start).
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

SERVICE = "gamification"
_DISABLED = os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() == "true"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="Gamification", service=SERVICE)


def count(name: str, *, activity_type: str | None = None, value: int = 1) -> None:
    """One CloudWatch metric (EMF, flushed at once): nothing to flush at the end of a request.

    Locally (POWERTOOLS_METRICS_DISABLED=true) nothing is printed: EMF lines are for CloudWatch.
    """
    if _DISABLED:
        return
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace="Gamification") as metric:
        metric.add_dimension(name="service", value=SERVICE)
        if activity_type:
            metric.add_dimension(name="activityType", value=activity_type)
