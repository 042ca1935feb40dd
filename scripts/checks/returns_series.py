#!/usr/bin/env python3
"""Independent reference for daily equity (METHODOLOGY.md section 1, "Where
the series comes from" and "Valuation"), from a mock exchange fixture file,
then the `returns` block through returns_reference.py.

Written from METHODOLOGY.md, not from the Rust code; standard library only.

usage: returns_series.py FIXTURE API_KEY [VALUATION_ASSET]
stdout: the returns block as JSON (returns_reference.py's, plus "unvalued"
        when some asset has no route), or `null` when the account has no
        snapshot.
"""

import datetime
import json
import os
import sys
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import returns_reference  # noqa: E402

DAY_MS = 86_400_000
SNAPSHOTS = 30
VALUE_PLACES = Decimal("1e-8")
BRIDGE = "BTC"


def day_of_ms(ms):
    return ms // DAY_MS


def day_of_text(text):
    t = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return day_of_ms(int(t.timestamp()) * 1000)


def date_of(day):
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=day)).isoformat()


def latest_run(snapshots):
    """snapshots: {day: balances}; the latest run of consecutive days."""
    days = sorted(snapshots)[-SNAPSHOTS:]
    run = days[-1:]
    for d in reversed(days[:-1]):
        if d + 1 != run[0]:
            break
        run.insert(0, d)
    return run


def snapshot_balances(vo):
    out = {}
    for b in vo["data"]["balances"]:
        total = Decimal(b["free"]) + Decimal(b["locked"])
        if total != 0:
            out[b["asset"]] = total
    return out


def flows_of(account, first, last):
    flows = []
    for d in account.get("deposits", []):
        day = day_of_ms(d["insertTime"])
        if d["status"] in (1, 6) and first <= day <= last:
            flows.append((day, d["coin"], Decimal(d["amount"])))
    for w in account.get("withdrawals", []):
        day = day_of_text(w["applyTime"])
        if w["status"] == 6 and first <= day <= last:
            flows.append((day, w["coin"], -Decimal(w["amount"])))
    return [f for f in flows if f[2] != 0]


def closes_of(fixture, symbol):
    return {day_of_ms(k[0]): Decimal(k[4]) for k in fixture.get("klines", {}).get(symbol, [])}


def route(fixture, asset, valuation, days):
    if asset == valuation:
        return lambda day: Decimal(1)
    direct = closes_of(fixture, asset + valuation)
    if all(d in direct for d in days):
        return lambda day: direct[day]
    if asset == BRIDGE:
        return None
    leg, bridge = closes_of(fixture, asset + BRIDGE), closes_of(fixture, BRIDGE + valuation)
    if all(d in leg and d in bridge for d in days):
        return lambda day: leg[day] * bridge[day]
    return None


def series(fixture, api_key, valuation):
    account = next(a for a in fixture["accounts"] if a["api_key"] == api_key)
    snapshots = {day_of_ms(vo["updateTime"]): snapshot_balances(vo) for vo in account.get("snapshots", [])}
    if not snapshots:
        return None, []
    run = latest_run(snapshots)
    flows = flows_of(account, run[0], run[-1])
    needed = {}
    for day in run:
        for asset in snapshots[day]:
            needed.setdefault(asset, set()).add(day)
    for day, asset, _ in flows:
        needed.setdefault(asset, set()).add(day)
    prices = {a: route(fixture, a, valuation, days) for a, days in needed.items()}
    unvalued = sorted(a for a, p in prices.items() if p is None)

    def value(asset, qty, day):
        price = prices[asset]
        if price is None:
            return Decimal(0)
        return (qty * price(day)).quantize(VALUE_PLACES, rounding=ROUND_HALF_EVEN)

    out = []
    for day in run:
        equity = sum((value(a, q, day) for a, q in snapshots[day].items()), Decimal(0))
        flow = sum((value(a, q, day) for d, a, q in flows if d == day), Decimal(0))
        out.append({"date": date_of(day), "equity": returns_reference.plain(equity),
                    "net_flow": returns_reference.plain(flow)})
    return out, unvalued


def main():
    fixture = json.load(open(sys.argv[1]))
    valuation = sys.argv[3] if len(sys.argv) > 3 else "USDT"
    context = Context(prec=returns_reference.PRECISION, rounding=ROUND_HALF_EVEN, Emax=10**6, Emin=-(10**6))
    with localcontext(context):
        days, unvalued = series(fixture, sys.argv[2], valuation)
        if days is None:
            print("null")
            return 0
        block = returns_reference.block({"valuation_asset": valuation, "series": days})
    if unvalued:
        block["unvalued"] = unvalued
    json.dump(block, sys.stdout, separators=(",", ":"))
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
