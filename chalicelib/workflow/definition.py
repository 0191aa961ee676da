"""The state machine's Lambda placeholders and the app functions behind them."""

from __future__ import annotations

# Placeholder in activity.asl.json -> name of the `@app.lambda_function` it invokes.
FUNCTIONS = {
    "BeginFunctionArn": "activity_begin",
    "BehaviourFunctionArn": "activity_behaviour",
    "PointFunctionArn": "activity_point",
    "CouponFunctionArn": "activity_coupon",
    "GiftFunctionArn": "activity_gift",
    "BountyFunctionArn": "activity_bounty",
    "RewardsFunctionArn": "activity_rewards",
    "RejectFunctionArn": "activity_reject",
    "FinishFunctionArn": "activity_finish",
    "MarkFailedFunctionArn": "activity_mark_failed",
}


def substitutions(arns_by_function: dict[str, str]) -> dict[str, str]:
    """`${Placeholder}` -> ARN, given the ARN of each app function by its short name."""
    return {placeholder: arns_by_function[name] for placeholder, name in FUNCTIONS.items()}
