"""Wiring only: the Chalice app, its blueprints, the workflow's Lambda functions, schedules.

The workflow modules are imported inside their functions: every Lambda of a Chalice app loads
this file, and the API handler's cold start should not pay for the rules engine.
"""

from __future__ import annotations

from typing import Any

from chalice import Chalice, Rate

from chalicelib.api import activities, mechanics, meta, sites, users
from chalicelib.api import jobs as operator_jobs
from chalicelib.api import tabs as user_tabs
from chalicelib.api import webhooks as webhook_routes
from chalicelib.workflow import definition as workflow  # the names the ASL and the app share

app = Chalice(app_name="gamification")
app.api.binary_types = []  # every body is JSON; never base64 a request

app.register_blueprint(meta.bp)
app.register_blueprint(sites.bp)
app.register_blueprint(users.bp)
app.register_blueprint(mechanics.bp)
app.register_blueprint(activities.bp)
app.register_blueprint(user_tabs.bp)
app.register_blueprint(operator_jobs.bp)
app.register_blueprint(webhook_routes.bp)

Event = dict[str, Any]


@app.lambda_function(name=workflow.CONSUMER)
def activity_consumer(event: Event, context: Any) -> Event:
    """The activity queue's consumer (SQS event source, ReportBatchItemFailures): infra/package.py."""
    from chalicelib.workflow import consumer

    return consumer.consume(event, context)


@app.lambda_function(name=workflow.BEHAVIOUR)
def activity_behaviour(event: Event, context: Any) -> Event:
    from chalicelib.workflow import steps

    return steps.behaviour_step(event, context)


@app.lambda_function(name=workflow.POINT)
def activity_point(event: Event, context: Any) -> Event:
    from chalicelib.workflow import steps

    return steps.point_step(event, context)


@app.lambda_function(name=workflow.COUPON)
def activity_coupon(event: Event, context: Any) -> Event:
    from chalicelib.workflow import steps

    return steps.coupon_step(event, context)


@app.lambda_function(name=workflow.GIFT)
def activity_gift(event: Event, context: Any) -> Event:
    from chalicelib.workflow import steps

    return steps.gift_step(event, context)


@app.lambda_function(name=workflow.BOUNTY)
def activity_bounty(event: Event, context: Any) -> Event:
    from chalicelib.workflow import steps

    return steps.bounty_step(event, context)


@app.lambda_function(name=workflow.REJECT)
def activity_reject(event: Event, context: Any) -> Event:
    from chalicelib.workflow import steps

    return steps.reject_step(event, context)


@app.lambda_function(name=workflow.MARK_FAILED)
def activity_mark_failed(event: Event, context: Any) -> Event:
    from chalicelib.workflow import steps

    return steps.mark_failed(event, context)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="reconcile_activities")
def reconcile_activities(event: Any, context: Any = None) -> dict[str, int]:
    """Hand unfinished work over again, or end it: nothing accepted is ever stranded."""
    from chalicelib.jobs import reconcile

    return reconcile.run()


@app.lambda_function(name="deliver_webhook")
def deliver_webhook(event: Event, context: Any) -> Event:
    """One webhook delivery attempt, invoked asynchronously (chalicelib/webhooks/worker.py)."""
    from chalicelib.webhooks import worker

    return worker.handle(event)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="deliver_webhooks")
def deliver_webhooks(event: Any, context: Any = None) -> dict[str, int]:
    """Hand every webhook delivery due by now to the delivery function (retries, lost hand-offs)."""
    from chalicelib.webhooks import worker

    return worker.sweep()


@app.schedule(Rate(1, unit=Rate.MINUTES), name="rank_leaderboards")
def rank_leaderboards(event: Any, context: Any = None) -> dict[str, int]:
    """Materialize leaderboard ranks (scores are live; ranks are refreshed every minute)."""
    from chalicelib.jobs import ranks

    return ranks.run()


# Hourly: each site runs once per site-local day, in the first pass after its local midnight
# (a pass that finds the day done costs one GetItem per site). See docs/jobs.md.
@app.schedule(Rate(1, unit=Rate.HOURS), name="kpi_rollup")
def kpi_rollup(event: Any, context: Any = None) -> dict[str, Any]:
    """Close finished KPI periods: final value, target and met per user, KPI and period."""
    from chalicelib.jobs import rollup

    return rollup.run()


@app.schedule(Rate(1, unit=Rate.HOURS), name="point_expiry")
def point_expiry(event: Any, context: Any = None) -> dict[str, Any]:
    """Expirable credits past their date leave the balance as `expired` ledger entries."""
    from chalicelib.jobs import expiry

    return expiry.run()
