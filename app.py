"""Wiring only: the Chalice app, its blueprints, the workflow's Lambda functions, schedules."""

from __future__ import annotations

from chalice import Chalice

from chalicelib.api import mechanics, meta, sites, users

app = Chalice(app_name="gamification")
app.api.binary_types = []  # every body is JSON; never base64 a request

app.register_blueprint(meta.bp)
app.register_blueprint(sites.bp)
app.register_blueprint(users.bp)
app.register_blueprint(mechanics.bp)
