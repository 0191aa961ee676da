"""Activity requests and resources (api.md, Activities)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StrictInt, model_validator

from chalicelib.models.base import RequestModel, ResponseModel, Timestamp, Uuid

PointId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
MechanicRef = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Verb = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,64}$")]
ActivityId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")]
Reason = Annotated[str, Field(max_length=1000)]
MAX_METADATA_BYTES = 8 * 1024


class PointAmount(RequestModel):
    point_id: PointId
    points: Annotated[StrictInt, Field(ge=-1_000_000_000, le=1_000_000_000)]


def _positive_amounts(items: list[PointAmount]) -> list[PointAmount]:
    for item in items:
        if item.points <= 0:
            raise ValueError("points must be positive integers")
    return items


def _one_per_type(items: list[PointAmount]) -> list[PointAmount]:
    ids = [i.point_id for i in items]
    if len(set(ids)) != len(ids):
        raise ValueError("each point type at most once")
    return items


PositiveAmounts = Annotated[list[PointAmount], Field(max_length=20), AfterValidator(_one_per_type),
                            AfterValidator(_positive_amounts)]


def _small_metadata(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value)) > MAX_METADATA_BYTES:
        raise ValueError(f"must be at most {MAX_METADATA_BYTES} bytes of JSON")
    return value


class BehaviourAttrs(RequestModel):
    type: Literal["behaviour"]
    verb: Verb
    metadata: Annotated[dict[str, Any], AfterValidator(_small_metadata)] = {}
    adhoc_points: PositiveAmounts = []


class PointAttrs(RequestModel):
    type: Literal["point"]
    action: Literal["increment", "set", "redeem", "refund"]
    points: Annotated[list[PointAmount], Field(min_length=1, max_length=20), AfterValidator(_one_per_type)]

    @model_validator(mode="after")
    def _amounts_fit_action(self) -> PointAttrs:
        for i, item in enumerate(self.points):
            if self.action in ("redeem", "refund") and item.points <= 0:
                raise ValueError(f"points.{i}.points: {self.action} needs a positive amount")
            if self.action == "set" and item.points < 0:
                raise ValueError(f"points.{i}.points: set needs an amount >= 0")
            if self.action == "increment" and item.points == 0:
                raise ValueError(f"points.{i}.points: increment needs a non-zero amount")
        return self


class CouponAttrs(RequestModel):
    type: Literal["coupon"]
    action: Literal["buy", "redeem", "refund"]
    coupon_id: MechanicRef
    user_coupon_id: ActivityId | None = None


class GiftAttrs(RequestModel):
    type: Literal["gift"]
    target_uuid: Uuid
    reward_id: MechanicRef | None = None
    points: PositiveAmounts = []


class BountyAttrs(RequestModel):
    type: Literal["bounty"]
    action: Literal["start", "cancel", "award"]
    points: PositiveAmounts = []
    bounty_id: ActivityId | None = None
    target_uuid: Uuid | None = None

    @model_validator(mode="after")
    def _fields_fit_action(self) -> BountyAttrs:
        if self.action == "start":
            if not self.points:
                raise ValueError("points: a bounty start needs points")
            if self.bounty_id is not None or self.target_uuid is not None:
                raise ValueError("bountyId: a bounty start takes only points")
        else:
            if self.bounty_id is None:
                raise ValueError(f"bountyId: a bounty {self.action} needs bountyId")
            if self.points:
                raise ValueError(f"points: a bounty {self.action} takes no points")
            if self.action == "award" and self.target_uuid is None:
                raise ValueError("targetUuid: a bounty award needs targetUuid")
            if self.action == "cancel" and self.target_uuid is not None:
                raise ValueError("targetUuid: a bounty cancel takes no targetUuid")
        return self


Attrs = Annotated[BehaviourAttrs | PointAttrs | CouponAttrs | GiftAttrs | BountyAttrs, Field(discriminator="type")]


class ActivityCreate(RequestModel):
    uuid: Uuid
    reason: Reason = ""
    attrs: Attrs


class RejectRequest(RequestModel):
    reason: Annotated[Reason, Field(min_length=1)]


ActivityStatus = Literal["QUEUED", "PROCESSING", "SUCCEEDED", "FAILED", "REJECTED"]


class Accepted(ResponseModel):
    id: str
    status: ActivityStatus


ActivityType = Literal["behaviour", "point", "coupon", "gift", "bounty"]


class ActivityError(ResponseModel):
    type: str  # a rule's error type (InsufficientPoints, CouponSoldOut, ...), Timeout or InternalError
    message: str


class AwardedPoints(ResponseModel):
    point_id: str
    points: int


class Awarded(ResponseModel):
    points: list[AwardedPoints]  # one entry per point type, summed over the activity's steps
    behaviours: list[str]  # ids of the behaviours that awarded
    rewards: list[str]  # ids of the rewards completed (a gift's reward included)
    coupons: list[str]  # user coupon ids handed out


class ActivityException(ResponseModel):
    """What the activity matched or unlocked and did not hand out: a behaviour held back by its
    limit or cool-off (`LimitReached`, `CoolOff`; with `behaviourId`), or a reward's prize coupon
    that could not be given (`verb` null, the coupon's error type; with `rewardId`, `couponId`
    and `uuid`)."""

    verb: str | None
    type: str
    message: str


class ActivityResult(ResponseModel):
    awarded: Awarded
    exceptions: list[ActivityException]
    blocked: bool  # the user was blocked: recorded, nothing awarded


class Refusal(ResponseModel):
    type: str
    message: str


class Rejection(ResponseModel):
    reason: str
    at: Timestamp
    by: str
    pending: bool
    refused: Refusal | None = None  # set when the reversal was refused while processing


class Activity(ResponseModel):
    id: str
    uuid: str
    type: ActivityType
    attrs: Attrs  # as accepted; the document states it as Recorded*Attrs (openapi._apart)
    reason: str
    status: ActivityStatus
    created_at: Timestamp
    processed_at: Timestamp | None
    result: ActivityResult | None
    error: ActivityError | None
    rejection: Rejection | None
    target_uuid: str | None
    by: str


class ActivityList(ResponseModel):
    items: list[Activity]
    next_cursor: str | None
