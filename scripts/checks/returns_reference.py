#!/usr/bin/env python3
"""Independent reference for the `returns` block, methodology strongroom/metrics/v2.

Written from METHODOLOGY.md alone (not from the Rust code), with the
standard library only: `decimal` at 60 significant digits, half-even.

stdin:  {"valuation_asset": "USDT", "risk_free_rate": "0" (optional),
         "series": [{"date": "YYYY-MM-DD", "equity": "...", "net_flow": "..."}, ...]}
stdout: the block as JSON (keys in METHODOLOGY.md's order), exit 0;
        or {"error": "<reason>"} and exit 2 when the input breaks section 1.
"""

import datetime
import json
import re
import sys
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

PRECISION = 60
MAX_ENTRIES = 36_600
MAX_AMOUNT = Decimal(10) ** 15
YEAR = Decimal(365)
TWELVE_PLACES = Decimal("1e-12")
PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class Refused(Exception):
    pass


def plain(x):
    """Normalized plain notation: no exponent, no trailing zeros, -0 -> 0."""
    text = format(x, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text


def figure(x):
    if x is None:
        return None
    return plain(x.quantize(TWELVE_PLACES, rounding=ROUND_HALF_EVEN))


def parse_amount(text):
    if not isinstance(text, str) or not PLAIN_DECIMAL.fullmatch(text):
        raise Refused("amount_not_a_plain_decimal")
    value = Decimal(text)
    if not value.is_finite() or abs(value) > MAX_AMOUNT:
        raise Refused("amount_out_of_range")
    return value


def parse_series(series):
    if not 1 <= len(series) <= MAX_ENTRIES:
        raise Refused("length")
    days, previous = [], None
    for entry in series:
        date = entry["date"]
        if not isinstance(date, str) or not DATE.fullmatch(date):
            raise Refused("bad_date")
        try:
            day = datetime.date.fromisoformat(date)
        except ValueError as e:
            raise Refused("bad_date") from e
        if previous is not None and day != previous + datetime.timedelta(days=1):
            raise Refused("not_consecutive")
        previous = day
        equity, flow = parse_amount(entry["equity"]), parse_amount(entry["net_flow"])
        if equity < 0:
            raise Refused("negative_equity")
        days.append((date, equity, flow))
    return days


def daily_returns(days):
    """r_d per entry (None for day 0 and for a base <= 0)."""
    out = [None]
    for (_, prev_equity, _), (_, equity, flow) in zip(days, days[1:]):
        base = prev_equity + flow
        out.append(equity / base - 1 if base > 0 else None)
    return out


def max_drawdown(returns):
    index, peak, worst = Decimal(1), Decimal(1), Decimal(0)
    for r in returns:
        index *= 1 + r
        peak = max(peak, index)
        worst = max(worst, 1 - index / peak)
    return worst


def figures(returns, rf):
    n = len(returns)
    product = Decimal(1)
    for r in returns:
        product *= 1 + r
    mean = sum(returns, Decimal(0)) / n if n else None
    s = None
    if n >= 2 and all(r == returns[0] for r in returns):
        s = Decimal(0)  # exactly 0 when all returns are equal (section 3)
    elif n >= 2:
        s = (sum(((r - mean) ** 2 for r in returns), Decimal(0)) / (n - 1)).sqrt()
    root_year = YEAR.sqrt()
    downside = sum((min(r, Decimal(0)) ** 2 for r in returns), Decimal(0))
    d = (downside / n).sqrt() if n else None
    mdd = max_drawdown(returns)
    calmar = None
    if n and mdd != 0:
        annual = Decimal(-1) if product == 0 else product ** (YEAR / n) - 1
        calmar = annual / mdd
    return {
        "twr": product - 1,
        "volatility": s * root_year if s is not None else None,
        "sharpe": (mean - rf / YEAR) / s * root_year if s else None,
        "sortino": mean / d * root_year if d else None,
        "max_drawdown": mdd,
        "calmar": calmar,
        "best_day": max(returns) if n else None,
        "worst_day": min(returns) if n else None,
    }


def block(request):
    asset = request["valuation_asset"]
    if not (1 <= len(asset) <= 16 and asset.isascii() and asset.isalnum()):
        raise Refused("bad_valuation_asset")
    rf = Decimal(request.get("risk_free_rate", "0"))
    if abs(rf) > 1:
        raise Refused("rate_out_of_range")
    days = parse_series(request["series"])
    per_day = daily_returns(days)
    returns = [r for r in per_day if r is not None]
    out = {"valuation_asset": asset, "days": len(returns), "daily": []}
    for (date, equity, flow), r in zip(days, per_day):
        out["daily"].append(
            {"date": date, "equity": plain(equity), "net_flow": plain(flow), "return": figure(r)}
        )
    for name, value in figures(returns, rf).items():
        out[name] = figure(value)
    if rf != 0:
        out["risk_free_rate"] = plain(rf)
    return out


def main():
    request = json.load(sys.stdin)
    context = Context(prec=PRECISION, rounding=ROUND_HALF_EVEN, Emax=10**6, Emin=-(10**6))
    with localcontext(context):
        try:
            result = block(request)
        except Refused as e:
            json.dump({"error": str(e)}, sys.stdout)
            print()
            return 2
    json.dump(result, sys.stdout, separators=(",", ":"))
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
