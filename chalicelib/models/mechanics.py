"""Mechanics: what an administrator configures on a site (api.md, "Sites, keys and mechanics").

These models check a mechanic's own shape (a 400 when it is wrong). Whether it fits the rest of
the site (unknown verbs, overlapping KPI targets, mission cycles...) is
`chalicelib.engine.validation`'s job, because that needs the other mechanics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    model_validator,
)
from pydantic.alias_generators import to_camel

from chalicelib.models.base import Name, ResponseModel
from chalicelib.models.base import Tag as UserTag

MechanicId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Verb = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,64}$")]
Text = Annotated[str, Field(max_length=2000)]
MechanicName = Annotated[Name, Field(min_length=1)]
PositiveInt = Annotated[int, Field(gt=0, le=1_000_000_000)]
NonNegativeInt = Annotated[int, Field(ge=0, le=1_000_000_000)]
CouponCode = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^\S(.*\S)?$")]
TagList = Annotated[list[UserTag], Field(max_length=50)]


def _iso_date(value: object) -> object:
    # Dates arrive as JSON strings; the model is strict elsewhere, so accept only a real date
    # or an ISO calendar date string (no timestamps, no datetimes passed off as dates).
    if isinstance(value, dt.datetime):
        raise ValueError("must be a calendar date (YYYY-MM-DD)")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("must be a calendar date (YYYY-MM-DD)")


CalendarDate = Annotated[dt.date, BeforeValidator(_iso_date)]


class MechanicModel(BaseModel):
    """camelCase on the wire, snake_case in Python; strict types; unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True, frozen=True,
        # As a response every field is sent: the document's response schema requires them all.
        json_schema_serialization_defaults_required=True,
    )

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")


def _unique(values: list[Any]) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError("must not repeat a value")
    return values


# ---------------------------------------------------------------- point types


class PointType(MechanicModel):
    id: MechanicId
    name: MechanicName
    redeemable: bool = False
    giftable: bool = False
    bountiable: bool = False
    expirable: bool = False
    expires_after_days: PositiveInt | None = None
    negativeable: bool = False
    stop_at_zero: bool = False


# ---------------------------------------------------------------- prizes


class PointPrize(MechanicModel):
    point_id: MechanicId
    points: PositiveInt


class BehaviourPrizes(MechanicModel):
    points: Annotated[list[PointPrize], Field(max_length=20)] = []
    add_tags: TagList = []
    remove_tags: TagList = []


class RewardPrizes(BehaviourPrizes):
    coupons: Annotated[list[MechanicId], Field(max_length=20)] = []


# ---------------------------------------------------------------- behaviours

ConditionOp = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "before", "after", "on"]
Scalar: TypeAlias = Annotated[str, Field(max_length=500)] | int | float | bool

MAX_CONDITION_DEPTH = 6
MAX_CONDITION_LEAVES = 50


class ConditionLeaf(MechanicModel):
    key: Annotated[str, Field(min_length=1, max_length=128)]
    op: ConditionOp
    value: Scalar | Annotated[list[Scalar], Field(min_length=1, max_length=100)]

    @model_validator(mode="after")
    def _value_fits_op(self) -> ConditionLeaf:
        # Only `in` compares against several values; elsewhere a list would be ambiguous.
        if self.op == "in" and not isinstance(self.value, list):
            raise ValueError("op 'in' needs a list value")
        if self.op != "in" and isinstance(self.value, list):
            raise ValueError(f"op '{self.op}' needs a single value, not a list")
        if self.op in ("before", "after", "on") and not isinstance(self.value, str):
            raise ValueError(f"op '{self.op}' needs an ISO date or date-time string")
        if self.op in ("before", "after", "on"):
            _check_temporal(self.value)
        if self.op == "contains" and not isinstance(self.value, str):
            raise ValueError("op 'contains' needs a string value")
        return self


def _check_temporal(value: object) -> None:
    assert isinstance(value, str)
    try:
        if len(value) == 10:
            dt.date.fromisoformat(value)
        else:
            dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO date (YYYY-MM-DD) or date-time") from None


class AndCondition(MechanicModel):
    and_: Annotated[list[Condition], Field(alias="and", min_length=1, max_length=MAX_CONDITION_LEAVES)]


class OrCondition(MechanicModel):
    or_: Annotated[list[Condition], Field(alias="or", min_length=1, max_length=MAX_CONDITION_LEAVES)]


def _condition_tag(value: Any) -> str:
    if isinstance(value, dict):
        return (
            "and"
            if "and" in value or "and_" in value
            else "or"
            if "or" in value or "or_" in value
            else "leaf"
        )
    if isinstance(value, AndCondition):
        return "and"
    if isinstance(value, OrCondition):
        return "or"
    return "leaf"


Condition: TypeAlias = Annotated[
    Annotated[AndCondition, Tag("and")]
    | Annotated[OrCondition, Tag("or")]
    | Annotated[ConditionLeaf, Tag("leaf")],
    Discriminator(_condition_tag),
]
AndCondition.model_rebuild()
OrCondition.model_rebuild()


def _condition_size(node: Condition, depth: int = 1) -> int:
    if depth > MAX_CONDITION_DEPTH:
        raise ValueError(f"conditions nest deeper than {MAX_CONDITION_DEPTH} levels")
    if isinstance(node, ConditionLeaf):
        return 1
    children = node.and_ if isinstance(node, AndCondition) else node.or_
    return sum(_condition_size(child, depth + 1) for child in children)


def _bounded_condition(node: Condition) -> Condition:
    if _condition_size(node) > MAX_CONDITION_LEAVES:
        raise ValueError(f"at most {MAX_CONDITION_LEAVES} conditions")
    return node


class PeriodicLimit(MechanicModel):
    period: Literal["day", "week", "month"]
    max: PositiveInt


class BehaviourLimits(MechanicModel):
    overall: PositiveInt | None = None
    periodic: PeriodicLimit | None = None
    cool_off_seconds: Annotated[int, Field(ge=0, le=366 * 86400)] = 0


class _BehaviourBase(MechanicModel):
    id: MechanicId
    verb: Verb
    name: MechanicName
    prizes: BehaviourPrizes = BehaviourPrizes()
    limits: BehaviourLimits = BehaviourLimits()
    message: Text = ""
    hint: Text = ""
    hidden: bool = False


class SimpleBehaviour(_BehaviourBase):
    kind: Literal["simple"]


class FlexibleBehaviour(_BehaviourBase):
    """Extends the simple behaviour of the same verb with a metadata condition tree."""

    kind: Literal["flexible"]
    conditions: Annotated[Condition, AfterValidator(_bounded_condition)]


Behaviour: TypeAlias = Annotated[SimpleBehaviour | FlexibleBehaviour, Field(discriminator="kind")]


# ---------------------------------------------------------------- rewards


class VerbCriterion(MechanicModel):
    verb: Verb
    times: PositiveInt


class PointCriterion(MechanicModel):
    point_id: MechanicId
    points: PositiveInt


class RewardCriterion(MechanicModel):
    reward_id: MechanicId


class RepeatEvery(MechanicModel):
    period: Literal["day", "week", "month"]


class RepeatUpTo(MechanicModel):
    max_times: Annotated[int, Field(ge=2, le=1_000_000)]


class _RewardBase(MechanicModel):
    id: MechanicId
    name: MechanicName
    message: Text = ""
    hint: Text = ""
    hidden: bool = False
    tags: TagList = []
    available_from: CalendarDate | None = None
    available_to: CalendarDate | None = None
    prizes: RewardPrizes = RewardPrizes()

    @model_validator(mode="after")
    def _window_in_order(self) -> _RewardBase:
        if self.available_from and self.available_to and self.available_from > self.available_to:
            raise ValueError("availableFrom must not be after availableTo")
        return self


class Achievement(_RewardBase):
    kind: Literal["achievement"]
    criteria: Annotated[list[VerbCriterion], Field(min_length=1, max_length=20)]
    expires_after_days: PositiveInt | None = None
    repeat: RepeatEvery | RepeatUpTo | None = None

    @model_validator(mode="after")
    def _verbs_once(self) -> Achievement:
        _unique([c.verb for c in self.criteria])
        return self


class Level(_RewardBase):
    kind: Literal["level"]
    ladder: MechanicId
    can_demote: bool = False
    criteria: Annotated[list[PointCriterion], Field(min_length=1, max_length=20)]

    @model_validator(mode="after")
    def _points_once(self) -> Level:
        _unique([c.point_id for c in self.criteria])
        return self


class Mission(_RewardBase):
    kind: Literal["mission"]
    criteria: Annotated[list[RewardCriterion], Field(min_length=1, max_length=50)]
    ordered: bool = False

    @model_validator(mode="after")
    def _rewards_once(self) -> Mission:
        _unique([c.reward_id for c in self.criteria])
        if any(c.reward_id == self.id for c in self.criteria):
            # "field: message" names the field for the API's error details.
            raise ValueError("criteria: a mission cannot contain itself")
        return self


class Gift(_RewardBase):
    kind: Literal["gift"]


Reward: TypeAlias = Annotated[Achievement | Level | Mission | Gift, Field(discriminator="kind")]
RewardKind = Literal["achievement", "level", "mission", "gift"]


# ---------------------------------------------------------------- KPIs


class TracksPoints(MechanicModel):
    points: MechanicId


class TracksBehaviour(MechanicModel):
    """A verb (counts behaviour activities) or a behaviour id (counts that behaviour's awards)."""

    behaviour: MechanicId


class TracksRewardKind(MechanicModel):
    reward_kind: RewardKind


class TracksReward(MechanicModel):
    reward: MechanicId


class AssignEveryone(MechanicModel):
    everyone: Literal[True]


class AssignUsers(MechanicModel):
    users: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=128)]], Field(min_length=1, max_length=1000)
    ]


class AssignTags(MechanicModel):
    tags: Annotated[list[UserTag], Field(min_length=1, max_length=50)]


class TargetValues(MechanicModel):
    daily: PositiveInt | None = None
    weekly: PositiveInt | None = None
    monthly: PositiveInt | None = None
    quarterly: PositiveInt | None = None
    yearly: PositiveInt | None = None

    @model_validator(mode="after")
    def _some_value(self) -> TargetValues:
        if all(v is None for v in (self.daily, self.weekly, self.monthly, self.quarterly, self.yearly)):
            raise ValueError("at least one of daily, weekly, monthly, quarterly, yearly")
        return self

    def for_period(self, period: str) -> int | None:
        value: int | None = getattr(self, period, None)
        return value


class KpiTarget(MechanicModel):
    valid_from: CalendarDate
    valid_to: CalendarDate
    assign_to: AssignEveryone | AssignUsers | AssignTags
    values: TargetValues


class Kpi(MechanicModel):
    id: MechanicId
    name: MechanicName
    tracks: TracksPoints | TracksBehaviour | TracksRewardKind | TracksReward
    targets: Annotated[list[KpiTarget], Field(max_length=200)] = []


# ---------------------------------------------------------------- coupons


class CouponPrice(MechanicModel):
    point_id: MechanicId
    points: PositiveInt


class Coupon(MechanicModel):
    id: MechanicId
    name: MechanicName
    description: Text = ""
    code_type: Literal["single", "multiple"]
    code: CouponCode | None = None
    codes: Annotated[list[CouponCode], Field(min_length=1, max_length=10_000)] | None = None
    price: CouponPrice | None = None
    redemption: Literal["oneStep", "twoStep"] = "oneStep"
    expires_on: CalendarDate | None = None
    expires_after_days: PositiveInt | None = None
    active: bool = True
    limited_series: PositiveInt | None = None
    per_user_limit: PositiveInt | None = None

    @model_validator(mode="after")
    def _codes_fit_type(self) -> Coupon:
        if self.code_type == "single" and (self.code is None or self.codes is not None):
            raise ValueError("codeType 'single' takes 'code' (and no 'codes')")
        if self.code_type == "multiple" and (self.codes is None or self.code is not None):
            raise ValueError("codeType 'multiple' takes 'codes' (and no 'code')")
        if self.expires_on is not None and self.expires_after_days is not None:
            raise ValueError("give expiresOn or expiresAfterDays, not both")
        return self

    def all_codes(self) -> list[str]:
        return [self.code] if self.code is not None else list(self.codes or [])


# ---------------------------------------------------------------- leaderboards


class RanksByPoints(MechanicModel):
    points: MechanicId


class RanksByBehaviour(MechanicModel):
    behaviour: Verb


LeaderboardPeriod = Literal["daily", "weekly", "monthly", "allTime"]


class Leaderboard(MechanicModel):
    id: MechanicId
    name: MechanicName
    ranks_by: RanksByPoints | RanksByBehaviour
    periods: Annotated[list[LeaderboardPeriod], Field(min_length=1, max_length=4), AfterValidator(_unique)]
    tags: TagList = []
    include_inactive: bool = False


# ---------------------------------------------------------------- the site's mechanics

Mechanic: TypeAlias = (
    PointType
    | SimpleBehaviour
    | FlexibleBehaviour
    | Achievement
    | Level
    | Mission
    | Gift
    | Kpi
    | Coupon
    | Leaderboard
)
MechanicKind = Literal["point-types", "behaviours", "rewards", "kpis", "coupons", "leaderboards"]

BEHAVIOUR_ADAPTER: TypeAdapter[SimpleBehaviour | FlexibleBehaviour] = TypeAdapter(Behaviour)
REWARD_ADAPTER: TypeAdapter[Achievement | Level | Mission | Gift] = TypeAdapter(Reward)


def parse_mechanic(kind: MechanicKind, body: Any) -> Mechanic:
    """Parse one mechanic's JSON body (raises pydantic.ValidationError on a bad shape)."""
    if kind == "point-types":
        return PointType.model_validate(body)
    if kind == "behaviours":
        return BEHAVIOUR_ADAPTER.validate_python(body)
    if kind == "rewards":
        return REWARD_ADAPTER.validate_python(body)
    if kind == "kpis":
        return Kpi.model_validate(body)
    if kind == "coupons":
        return Coupon.model_validate(body)
    return Leaderboard.model_validate(body)


_UNION_TAGS = frozenset({"simple", "flexible", "achievement", "level", "mission", "gift"})


def error_field(loc: tuple[int | str, ...]) -> str:
    """The dotted wire path of a pydantic error location, without the union tags pydantic adds
    (`achievement.criteria.0.times` -> `criteria.0.times`, `conditions.and.and.0.leaf.op` ->
    `conditions.and.0.op`)."""
    parts: list[str] = []
    for i, part in enumerate(loc):
        text = str(part)
        if i == 0 and text in _UNION_TAGS:
            continue
        # A condition node's tag comes right before its own `and`/`or` field.
        if text == "leaf" or (text in ("and", "or") and i + 1 < len(loc) and loc[i + 1] == text):
            continue
        parts.append(text)
    return ".".join(parts)


class SiteMechanics:
    """All mechanics of one site, with the lookups the engine needs precomputed.

    Immutable by convention: `with_mechanic`/`without_mechanic` return a new instance, so a
    cached copy can be shared between requests.
    """

    def __init__(
        self,
        point_types: Iterable[PointType] = (),
        behaviours: Iterable[SimpleBehaviour | FlexibleBehaviour] = (),
        rewards: Iterable[Achievement | Level | Mission | Gift] = (),
        kpis: Iterable[Kpi] = (),
        coupons: Iterable[Coupon] = (),
        leaderboards: Iterable[Leaderboard] = (),
    ) -> None:
        self.point_types: dict[str, PointType] = {m.id: m for m in point_types}
        self.behaviours: dict[str, SimpleBehaviour | FlexibleBehaviour] = {m.id: m for m in behaviours}
        self.rewards: dict[str, Achievement | Level | Mission | Gift] = {m.id: m for m in rewards}
        self.kpis: dict[str, Kpi] = {m.id: m for m in kpis}
        self.coupons: dict[str, Coupon] = {m.id: m for m in coupons}
        self.leaderboards: dict[str, Leaderboard] = {m.id: m for m in leaderboards}
        self._index()

    def _index(self) -> None:
        self.simple_by_verb: dict[str, SimpleBehaviour] = {}
        self.flexible_by_verb: dict[str, list[FlexibleBehaviour]] = {}
        for b in self.behaviours.values():
            if isinstance(b, SimpleBehaviour):
                self.simple_by_verb.setdefault(b.verb, b)
            else:
                self.flexible_by_verb.setdefault(b.verb, []).append(b)
        self.achievements_by_verb: dict[str, list[Achievement]] = {}
        self.levels_by_point: dict[str, list[Level]] = {}
        self.missions_by_reward: dict[str, list[Mission]] = {}
        self.ladders: dict[str, list[Level]] = {}
        self.tag_restricted_rewards: list[str] = []
        for r in self.rewards.values():
            if r.tags:
                self.tag_restricted_rewards.append(r.id)
            if isinstance(r, Achievement):
                for vc in r.criteria:
                    self.achievements_by_verb.setdefault(vc.verb, []).append(r)
            elif isinstance(r, Level):
                self.ladders.setdefault(r.ladder, []).append(r)
                for pc in r.criteria:
                    self.levels_by_point.setdefault(pc.point_id, []).append(r)
            elif isinstance(r, Mission):
                for rc in r.criteria:
                    self.missions_by_reward.setdefault(rc.reward_id, []).append(r)
        self.reward_order: dict[str, int] = {rid: i for i, rid in enumerate(self.rewards)}
        self.demoting_ladders: frozenset[str] = frozenset(
            name for name, levels in self.ladders.items() if any(level.can_demote for level in levels)
        )

    @classmethod
    def from_wire(cls, bodies: Mapping[MechanicKind, Iterable[Any]]) -> SiteMechanics:
        """Build from stored JSON bodies, keyed by mechanic kind."""
        parsed: dict[str, list[Any]] = {k: [parse_mechanic(k, b) for b in v] for k, v in bodies.items()}
        return cls(
            point_types=parsed.get("point-types", []),
            behaviours=parsed.get("behaviours", []),
            rewards=parsed.get("rewards", []),
            kpis=parsed.get("kpis", []),
            coupons=parsed.get("coupons", []),
            leaderboards=parsed.get("leaderboards", []),
        )

    def _collections(self) -> dict[MechanicKind, dict[str, Any]]:
        return {
            "point-types": self.point_types,
            "behaviours": self.behaviours,
            "rewards": self.rewards,
            "kpis": self.kpis,
            "coupons": self.coupons,
            "leaderboards": self.leaderboards,
        }

    def get(self, kind: MechanicKind, mechanic_id: str) -> Mechanic | None:
        found: Mechanic | None = self._collections()[kind].get(mechanic_id)
        return found

    def _rebuilt(self, kind: MechanicKind, change: Mapping[str, Any]) -> SiteMechanics:
        colls = {k: dict(v) for k, v in self._collections().items()}
        colls[kind] = dict(change)
        return SiteMechanics(
            colls["point-types"].values(),
            colls["behaviours"].values(),
            colls["rewards"].values(),
            colls["kpis"].values(),
            colls["coupons"].values(),
            colls["leaderboards"].values(),
        )

    def with_mechanic(self, kind: MechanicKind, mechanic: Mechanic) -> SiteMechanics:
        """A copy where `mechanic` is added or replaces the one with the same id."""
        coll = dict(self._collections()[kind])
        coll[mechanic.id] = mechanic
        return self._rebuilt(kind, coll)

    def without_mechanic(self, kind: MechanicKind, mechanic_id: str) -> SiteMechanics:
        coll = dict(self._collections()[kind])
        coll.pop(mechanic_id, None)
        return self._rebuilt(kind, coll)

    def behaviours_for_verb(self, verb: str) -> list[SimpleBehaviour | FlexibleBehaviour]:
        """The simple behaviour of `verb` first, then its flexible children in site order."""
        simple = self.simple_by_verb.get(verb)
        found: list[SimpleBehaviour | FlexibleBehaviour] = [simple] if simple else []
        found.extend(self.flexible_by_verb.get(verb, []))
        return found

    def has_verb(self, verb: str) -> bool:
        return verb in self.simple_by_verb

    def ladder_can_demote(self, ladder: str) -> bool:
        return ladder in self.demoting_ladders

    def __iter__(self) -> Iterator[tuple[MechanicKind, Mechanic]]:
        for kind, coll in self._collections().items():
            for mechanic in coll.values():
                yield kind, mechanic


class _MechanicPage(ResponseModel):
    """A page of mechanics of one kind; each kind's list names its items' schema."""

    next_cursor: str | None


class PointTypeList(_MechanicPage):
    items: list[PointType]


class BehaviourList(_MechanicPage):
    items: list[Behaviour]


class RewardList(_MechanicPage):
    items: list[Reward]


class KpiList(_MechanicPage):
    items: list[Kpi]


class CouponList(_MechanicPage):
    items: list[Coupon]


class LeaderboardList(_MechanicPage):
    items: list[Leaderboard]
