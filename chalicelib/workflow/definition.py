"""The names the state machine, the app and the workflow share, in one table."""

from __future__ import annotations

# The `@app.lambda_function` names of the workflow's steps (app.py registers them by these).
BEHAVIOUR = "activity_behaviour"
POINT = "activity_point"
COUPON = "activity_coupon"
GIFT = "activity_gift"
BOUNTY = "activity_bounty"
REJECT = "activity_reject"
MARK_FAILED = "activity_mark_failed"
# Placeholder in activity.asl.json -> the function it invokes.
FUNCTIONS = {
    "BehaviourFunctionArn": BEHAVIOUR,
    "PointFunctionArn": POINT,
    "CouponFunctionArn": COUPON,
    "GiftFunctionArn": GIFT,
    "BountyFunctionArn": BOUNTY,
    "RejectFunctionArn": REJECT,
    "MarkFailedFunctionArn": MARK_FAILED,
}
# The output field of work that is not ready (the step found its activity not written yet: an
# accept under way); the consumer gives the message back for a later try.
NOT_READY = "notReady"
# Express: billed per execution and duration, not per transition; run synchronously by the consumer.
STATE_MACHINE_TYPE = "EXPRESS"
# The function Lambda's SQS event source feeds from the activity queue (infra/package.py wires it).
CONSUMER = "activity_consumer"
# The queue's logical id in infra/template.json, and the local runtime's queue names.
QUEUE_LOGICAL_ID = "ActivityQueue"
DEAD_LETTER_LOGICAL_ID = "ActivityDeadLetterQueue"
# Lambda's SQS event source: batch size, and the consumer's timeout, which the queue's visibility
# timeout (infra/template.json, 90 s) must exceed.
BATCH_SIZE = 10
CONSUMER_TIMEOUT = 60  # seconds, as .chalice/config.json deploys `activity_consumer`


def substitutions(arns_by_function: dict[str, str]) -> dict[str, str]:
    """`${Placeholder}` -> ARN, given the ARN of each app function by its short name."""
    return {placeholder: arns_by_function[name] for placeholder, name in FUNCTIONS.items()}
