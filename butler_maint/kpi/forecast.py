"""Forecasts: when a numeric observation with a trend will cross its check's threshold.

Per host+check, the numeric ``observed`` values (``91``, ``"45.3 % used, ..."``, ``"12
days left"``, ``"expired 3 days ago"`` -> -3) of results whose ``expected`` reads like a
limit (``<= 85 %``, ``>= 30 days``; the first clause of ``"<= 90 % used, >= 500 MB
available"``) get a least-squares line over time. When the latest point is still within
the limit and the line heads toward it, the crossing instant is predicted, but only from
enough history: at least ``MIN_POINTS`` points spanning at least ``MIN_SPAN``, on a line
that fits them (r² at least ``MIN_R2``). A trend short of that is a ``Shortfall`` ("not
enough history"), never a forecast: three points taken minutes apart say nothing about
the coming days. Evidence history alone: pure, ``now`` is a parameter.

``forecast_series`` is the bare line (points and direction only); the history rules
are applied by ``forecasts`` and ``shortfalls``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from butler_maint.evidence.model import Observed
from butler_maint.kpi.history import Observation, by_key

MIN_POINTS = 3
"""Fewest points a forecast is drawn from."""
MIN_SPAN = timedelta(days=3)
"""Shortest time from the first to the last point a forecast is drawn from."""
MIN_R2 = 0.5
"""Lowest r² (share of the variance the line explains) a forecast is drawn from."""
DAY = 86400.0
Op = Literal["<=", "<", ">=", ">"]

_LIMIT = re.compile(r"^\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)\s*([^,]*)")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_EXPIRED = re.compile(r"^\s*expired\s+(\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class Threshold:
    """A limit parsed from ``expected``: ``<= 85 %`` is ``("<=", 85.0, "%")``."""

    op: Op
    value: float
    unit: str

    @property
    def upper(self) -> bool:
        """True for an upper limit (``<=``/``<``): a rising value crosses it."""
        return self.op in ("<=", "<")

    def within(self, value: float) -> bool:
        """True when ``value`` satisfies the limit."""
        ops = {
            "<=": value <= self.value,
            "<": value < self.value,
            ">=": value >= self.value,
            ">": value > self.value,
        }
        return ops[self.op]

    def __str__(self) -> str:
        number = f"{self.value:g}"
        return f"{number} {self.unit}".strip()


@functools.lru_cache(maxsize=4096)
def parse_threshold(expected: str | None) -> Threshold | None:
    """The limit ``expected`` states in its first clause, or None (memoized: a fleet's
    results repeat a few limits many times)."""
    match = _LIMIT.match(expected or "")
    if match is None:
        return None
    op: Op = match.group(1)  # type: ignore[assignment]  # the regex allows only the four
    return Threshold(op, float(match.group(2)), match.group(3).strip())


def numeric_value(observed: Observed) -> float | None:
    """A number read from ``observed``: itself, ``-N`` for "expired N days ago", else the
    first number in the text; None for booleans and text without a number."""
    if isinstance(observed, bool) or observed is None:
        return None
    if isinstance(observed, int | float):
        return float(observed)
    if expired := _EXPIRED.match(observed):
        return -float(expired.group(1))
    number = _NUMBER.search(observed)
    return float(number.group()) if number else None


@dataclass(frozen=True)
class Forecast:
    """When a host+check's observed value is predicted to cross its threshold."""

    host: str
    check: str
    threshold: Threshold
    points: int
    last_value: float
    last_at: datetime
    slope_per_day: float
    crossing: datetime

    def days_left(self, now: datetime) -> float:
        """Days from ``now`` to the crossing (negative once past)."""
        return (self.crossing - now).total_seconds() / DAY

    def describe(self, now: datetime) -> str:
        """``disk-root on web01 reaches 85 % in about 9 days``."""
        days = self.days_left(now)
        when = (
            "now"
            if days < 0.5
            else f"in about {max(1, round(days))} day" + ("s" if round(days) > 1 else "")
        )
        return f"{self.check} on {self.host} reaches {self.threshold} {when}"


def fit(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """Least-squares ``(slope, intercept)`` of ``(x, y)`` points; None if x does not vary."""
    n = len(points)
    if n < 2:
        return None
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    slope = sxy / sxx
    return slope, mean_y - slope * mean_x


def r_squared(points: Sequence[tuple[float, float]], line: tuple[float, float]) -> float:
    """The coefficient of determination of ``line`` (slope, intercept) over ``points``."""
    slope, intercept = line
    mean_y = sum(y for _, y in points) / len(points)
    total = sum((y - mean_y) ** 2 for _, y in points)
    if total == 0:
        return 1.0
    residual = sum((y - (slope * x + intercept)) ** 2 for x, y in points)
    return 1.0 - residual / total


def _days(series: Sequence[tuple[datetime, float]]) -> list[tuple[float, float]]:
    origin = series[0][0]
    return [((t - origin).total_seconds() / DAY, v) for t, v in series]


def _span_text(span: timedelta) -> str:
    minutes = span.total_seconds() / 60
    if minutes < 120:
        return f"{round(minutes)} minute" + ("s" if round(minutes) != 1 else "")
    if minutes < 48 * 60:
        return f"{round(minutes / 60)} hours"
    return f"{minutes / 1440:.1f} days"


@dataclass(frozen=True)
class Shortfall:
    """A value heading toward its limit on too little history to forecast from."""

    host: str
    check: str
    threshold: Threshold
    points: int
    span: timedelta
    r2: float

    def describe(self) -> str:
        """``memory on h001: not enough history (3 points over 3 minutes)``."""
        return (
            f"{self.check} on {self.host}: not enough history to forecast {self.threshold} "
            f"({self.points} points over {_span_text(self.span)}, r² {self.r2:.2f}; needs "
            f"{MIN_POINTS} points over {MIN_SPAN.days} days, r² {MIN_R2})"
        )


def forecast_series(
    series: Sequence[tuple[datetime, float]], threshold: Threshold, min_points: int = MIN_POINTS
) -> tuple[float, datetime] | None:
    """``(slope per day, crossing instant)`` of time-ordered ``series``, or None when there
    are too few points, the last point is past the limit, or the trend is flat or away."""
    if len(series) < min_points or not threshold.within(series[-1][1]):
        return None
    origin = series[0][0]
    line = fit(_days(series))
    if line is None:
        return None
    slope, intercept = line
    if slope == 0 or (slope > 0) != threshold.upper:
        return None
    days = (threshold.value - intercept) / slope
    if not math.isfinite(days) or abs(days) > 365_000:
        return None
    return slope, origin + timedelta(days=days)


def _assess(group: Sequence[Observation], min_points: int) -> Forecast | Shortfall | None:
    """A forecast of one host+check, a shortfall when its history is too thin, or None
    when nothing heads toward a limit."""
    threshold = parse_threshold(group[-1].expected)
    if threshold is None:
        return None
    series = [
        (o.at, v)
        for o in group
        if parse_threshold(o.expected) == threshold and (v := numeric_value(o.observed)) is not None
    ]
    predicted = forecast_series(series, threshold, min_points=2)
    if predicted is None:
        return None
    last = group[-1]
    span = series[-1][0] - series[0][0]
    points = _days(series)
    line = fit(points)
    r2 = r_squared(points, line) if line is not None else 0.0
    if len(series) < min_points or span < MIN_SPAN or r2 < MIN_R2:
        return Shortfall(last.host, last.check, threshold, len(series), span, r2)
    return Forecast(
        host=last.host,
        check=last.check,
        threshold=threshold,
        points=len(series),
        last_value=series[-1][1],
        last_at=series[-1][0],
        slope_per_day=predicted[0],
        crossing=predicted[1],
    )


def assessments(
    obs: Sequence[Observation], now: datetime, min_points: int = MIN_POINTS
) -> list[Forecast | Shortfall]:
    """Every host+check of time-ordered ``obs`` (results up to ``now``) heading toward a
    limit: a forecast, or a shortfall when its history is too thin (what ``forecasts``
    and ``shortfalls`` pick from; compute it once to ask both)."""
    groups = by_key(o for o in obs if o.at <= now).values()
    return [a for group in groups if (a := _assess(group, min_points)) is not None]


def forecasts(
    obs: Sequence[Observation],
    now: datetime,
    *,
    horizon: timedelta | None = None,
    min_points: int = MIN_POINTS,
    assessed: Sequence[Forecast | Shortfall] | None = None,
) -> list[Forecast]:
    """Forecasts of every host+check of time-ordered ``obs`` (results up to ``now``) with
    enough history, soonest crossing first; with ``horizon``, only crossings before
    ``now + horizon`` (``assessed``: ``assessments`` of the same arguments)."""
    if assessed is None:
        assessed = assessments(obs, now, min_points)
    found = [
        f
        for f in assessed
        if isinstance(f, Forecast) and (horizon is None or f.crossing <= now + horizon)
    ]
    return sorted(found, key=lambda f: (f.crossing, f.host, f.check))


def shortfalls(
    obs: Sequence[Observation],
    now: datetime,
    *,
    min_points: int = MIN_POINTS,
    assessed: Sequence[Forecast | Shortfall] | None = None,
) -> list[Shortfall]:
    """Host+checks heading toward their limit without enough history to forecast
    (``assessed``: ``assessments`` of the same arguments)."""
    if assessed is None:
        assessed = assessments(obs, now, min_points)
    found = [s for s in assessed if isinstance(s, Shortfall)]
    return sorted(found, key=lambda s: (s.host, s.check))
