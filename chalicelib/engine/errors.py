"""Domain errors of the rules engine.

Each class is named after the `error.type` a FAILED activity carries (api.md), so the workflow
can fail an activity with `{"type": err.type, "message": err.message}` without a mapping table.
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """A rule refused the work. `type` is the wire name, `message` is for people."""

    type: ClassVar[str] = "DomainError"

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.type = cls.__name__

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidAmount(DomainError):
    """An amount the request's shape should have refused (zero, negative where positive is
    needed). Handlers normally catch this earlier as a 400 `ValidationError`."""


# __init_subclass__ named it after the class; its wire name is the 400 type instead.
InvalidAmount.type = "ValidationError"


class UnknownBehaviour(DomainError):
    pass


class UnknownPointType(DomainError):
    pass


class CouponNotFound(DomainError):
    pass


class TargetNotFound(DomainError):
    pass


class BountyNotFound(DomainError):
    pass


class UserNotMember(DomainError):
    pass


class UserBlocked(DomainError):
    pass


class TargetBlocked(DomainError):
    pass


class InsufficientPoints(DomainError):
    pass


class NotRedeemable(DomainError):
    pass


class NotGiftable(DomainError):
    pass


class NotBountiable(DomainError):
    pass


class NegativeNotAllowed(DomainError):
    pass


class SetOnExpirable(DomainError):
    pass


class RefundExceedsRedeemed(DomainError):
    pass


class GiftToSelf(DomainError):
    pass


class NotRejectable(DomainError):
    """A reject refused while processing: a later activity used the effects it would undo."""


class BountyNotOpen(DomainError):
    pass


class CouponInactive(DomainError):
    pass


class CouponExpired(DomainError):
    pass


class CouponSoldOut(DomainError):
    pass


class CouponLimitReached(DomainError):
    pass


class CouponNotHeld(DomainError):
    pass


ACTIVITY_ERROR_TYPES: frozenset[str] = frozenset(
    cls.type for cls in DomainError.__subclasses__() if cls is not InvalidAmount
)
