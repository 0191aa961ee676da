"""Coupons: buy, redeem and refund.

A coupon's copies are handed out by its stock shards (engine.stock: which copy a shard holds
next); for a coupon with several codes or a limited series, taking one is conditional on the
shard's count read, so two buyers can never get the same code or exceed the series; a
single-code unlimited coupon only adds to a shard's count. A buyer reads one shard at random,
so a flash sale's buyers spread over the shards instead of racing for one counter; codes go out
in list order per shard (across shards only roughly).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from chalicelib.activities import common
from chalicelib.activities.effects import Context, Effects
from chalicelib.clock import iso
from chalicelib.engine import errors as rules
from chalicelib.engine import stock, wallet
from chalicelib.engine.periods import local_date, local_midnight_utc
from chalicelib.models.mechanics import Coupon
from chalicelib.store import db
from chalicelib.store import stock as stock_store
from chalicelib.store.keys import STOCK_SHARDS, user_coupon_sk, user_pk
from chalicelib.store.userstate import UserState, parse_time


def process(ctx: Context) -> Effects:
    attrs: dict[str, Any] = ctx.activity["attrs"]
    state = common.load_spender(ctx)
    coupon = ctx.mechanics.coupons.get(attrs["couponId"])
    if coupon is None:
        raise rules.CouponNotFound(f"no coupon '{attrs['couponId']}'")
    effects = common.new_effects(ctx, "coupon")
    result = common.empty_result()
    action = attrs["action"]
    if action == "buy":
        if coupon.price is None:
            raise rules.NotRedeemable(f"coupon '{coupon.id}' is award-only and cannot be bought")
        user_coupon = acquire(ctx, effects, state, coupon, "purchase")
        result["awarded"]["coupons"] = [user_coupon["userCouponId"]]
        effects.commit(result)
        return effects
    held = _held(state, coupon.id, attrs.get("userCouponId"))
    if action == "redeem":
        if held is None or held["status"] != "available":
            if held is None and coupon.price is not None and coupon.redemption == "oneStep":
                bought = acquire(ctx, effects, state, coupon, "purchase", redeem=True)
                result["awarded"]["coupons"] = [bought["userCouponId"]]
                effects.commit(result)
                return effects
            raise rules.CouponNotHeld(f"user '{ctx.uuid}' holds no available '{coupon.id}' coupon")
        expires = parse_time(held.get("expiresAt"))
        if expires is not None and expires <= ctx.now:
            raise rules.CouponExpired(f"coupon '{held['code']}' expired at {held['expiresAt']}")
        _set_status(ctx, effects, held, "redeemed", {"redeemedAt": ctx.now_iso, "redeemedBy": ctx.activity_id})
        result["awarded"]["coupons"] = [held["userCouponId"]]
        effects.commit(result)
        return effects
    # refund
    if held is None or held["status"] not in ("redeemed", "available"):
        raise rules.CouponNotHeld(f"user '{ctx.uuid}' holds no refundable '{coupon.id}' coupon")
    if held["acquiredBy"] == "award":
        if held["status"] != "redeemed":
            raise rules.CouponNotHeld("an awarded coupon is refunded only once redeemed")
        _set_status(ctx, effects, held, "available", {"redeemedAt": None})
    else:
        price = held.get("price") or {}
        if price:
            pt = common.point_type(ctx, price["pointId"])
            effects.change_wallet(ctx.uuid, pt, wallet.coupon_refund(
                pt, state.wallet(pt.id), int(price["points"]), ctx.now, ctx.tz,
                batch_id=common.batch_id(ctx, pt.id)))
        _set_status(ctx, effects, held, "refunded", {"refundedAt": ctx.now_iso, "refundedBy": ctx.activity_id})
    effects.commit(result)
    return effects


def _held(state: UserState, coupon_id: str, user_coupon_id: str | None) -> dict[str, Any] | None:
    if user_coupon_id:
        found = state.coupons.get(user_coupon_id)
        return found if found and found["couponId"] == coupon_id else None
    mine = sorted((c for c in state.coupons.values() if c["couponId"] == coupon_id),
                  key=lambda c: c["acquiredAt"])
    for wanted in ("available", "redeemed"):
        for c in mine:
            if c["status"] == wanted:
                return c
    return None


def _set_status(ctx: Context, effects: Effects, held: dict[str, Any], status: str, extra: dict[str, Any]) -> None:
    names = {"#s": "status", **{f"#x{i}": k for i, k in enumerate(extra)}}
    values = {":new": status, ":old": held["status"], **{f":x{i}": v for i, v in enumerate(extra.values())}}
    sets = ", ".join(["#s = :new", *(f"#x{i} = :x{i}" for i in range(len(extra)))])
    effects.ops.append(db.tx_update(user_pk(ctx.site_id, ctx.uuid), user_coupon_sk(held["userCouponId"]),
                                    "SET " + sets, values=values, names=names, condition="#s = :old"))
    effects.extra_record.setdefault("coupons", []).append(
        {"userCouponId": held["userCouponId"], "from": held["status"], "to": status})


def _shard_with_a_copy(ctx: Context, coupon: Coupon, total: int | None) -> stock.StockShard:
    """A stock shard with a copy of `coupon` left: one read at random, and when that shard has
    handed out all of its copies, one read of them all (a shard at random among those with
    copies, so that buyers spread); CouponSoldOut when none has."""
    if total is None or (total > 0 and not stock_store.known_sold_out(ctx.site_id, coupon.id, total)):
        first = stock_store.read(ctx.site_id, coupon.id, stock.first_choice(total, STOCK_SHARDS, secrets.randbelow))
        if stock.has_copy(first, STOCK_SHARDS, total):
            return first
        shard = stock.pick(stock_store.read_all(ctx.site_id, coupon.id), STOCK_SHARDS, total, secrets.randbelow)
        if shard is not None:
            return shard
        if total is not None:
            stock_store.remember_sold_out(ctx.site_id, coupon.id, total)
    if coupon.limited_series is not None and total == coupon.limited_series:
        raise rules.CouponSoldOut(f"all {coupon.limited_series} '{coupon.id}' coupons are gone")
    raise rules.CouponSoldOut(f"every code of '{coupon.id}' has been handed out")


def acquire(ctx: Context, effects: Effects, state: UserState, coupon: Coupon, how: str, *,
            redeem: bool = False, uuid: str | None = None) -> dict[str, Any]:
    """Hand one copy of `coupon` to the user, charging its price when bought."""
    owner = uuid or ctx.uuid
    if not coupon.active:
        raise rules.CouponInactive(f"coupon '{coupon.id}' is not active")
    today = local_date(ctx.now, ctx.tz)
    if coupon.expires_on is not None and coupon.expires_on < today:
        raise rules.CouponExpired(f"coupon '{coupon.id}' expired on {coupon.expires_on}")
    if coupon.per_user_limit is not None:
        held = [c for c in state.coupons.values() if c["couponId"] == coupon.id and c["status"] != "refunded"]
        if len(held) >= coupon.per_user_limit:
            raise rules.CouponLimitReached(f"at most {coupon.per_user_limit} '{coupon.id}' per user")
    codes = coupon.all_codes()
    total = stock.copies(coupon)
    if coupon.code_type != "multiple" and total is None:
        # One code for all and no limit: only counted, on any shard, with nothing to read first.
        code = codes[0]
        effects.ops.append(stock_store.tx_count(ctx.site_id, coupon.id, secrets.randbelow(STOCK_SHARDS)))
    else:
        shard = _shard_with_a_copy(ctx, coupon, total)
        code = codes[stock.next_copy(shard, STOCK_SHARDS)] if coupon.code_type == "multiple" else codes[0]
        effects.ops.append(stock_store.tx_take(ctx.site_id, coupon.id, shard))
    spent = 0
    price = None
    if how == "purchase" and coupon.price is not None:
        pt = common.point_type(ctx, coupon.price.point_id)
        batches, keys = common.credits_for(ctx, owner, pt)
        effects.change_wallet(owner, pt, wallet.coupon_buy(pt, state.wallet(pt.id), coupon.price.points, ctx.now,
                                                           batches=batches), keys)
        spent = coupon.price.points
        price = {"pointId": pt.id, "points": spent}
    expires_at = None
    if coupon.expires_after_days:
        expires_at = iso(local_midnight_utc(today + dt.timedelta(days=coupon.expires_after_days), ctx.tz))
    elif coupon.expires_on is not None:
        expires_at = iso(local_midnight_utc(coupon.expires_on + dt.timedelta(days=1), ctx.tz))
    user_coupon_id = f"{ctx.activity_id}-{coupon.id}"
    item = {
        "userCouponId": user_coupon_id, "couponId": coupon.id, "name": coupon.name, "code": code,
        "acquiredAt": ctx.now_iso, "acquiredBy": how, "pointsSpent": spent, "price": price,
        "redeemedAt": ctx.now_iso if redeem else None, "expiresAt": expires_at,
        "status": "redeemed" if redeem else "available", "activityId": ctx.activity_id,
    }
    effects.ops.append(db.tx_put({"PK": user_pk(ctx.site_id, owner), "SK": user_coupon_sk(user_coupon_id), **item},
                                 condition="attribute_not_exists(PK)"))
    effects.extra_record.setdefault("acquired", []).append({"uuid": owner, "userCouponId": user_coupon_id,
                                                            "couponId": coupon.id})
    return item
