"""Webhooks (issue 20): signing, the URL rules and one delivery attempt. The endpoints' API,
the events' outbox and the retry schedule's worker build on these (docs/webhooks.md)."""
