"""Validation of the slots a plugin returns, before anything is stored.

A fetch is accepted whole or refused whole: one bad slot makes :func:`validate_slots` raise
:class:`SlotValidationError` naming the first problem, and the caller stores nothing.

What passes here is what everything downstream may rely on: the store (whole-second
boundaries), the figures of :mod:`energyd.domain.figures` (whole-minute lengths, one currency per
series) and so every derived topic. A rule those need belongs here, so that a provider's
odd answer fails one fetch instead of a topic (or, before topics were built in isolation,
the daemon) at the next slot boundary.

A backfill hands over 100k slots at once, so the check is cheap for the common slot: an exact
:class:`EnergyPriceSlot` in UTC with float prices (what the plugin kit builds) is accepted by
:func:`_plain`, a few datetime comparisons and exact type tests, and passed on as it is (it is
frozen, and already what the normalised copy would be). Every other slot, good or bad, goes
through :func:`_checked`, which holds every rule with its message, so an answer is refused
exactly as it always was. Slots that arrive in order without overlaps are not sorted again.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from energyd.exceptions import SlotValidationError
from energyd.providers.base import EnergyPriceSlot

__all__ = ["MAX_SLOT_LENGTH", "WINDOW_TOLERANCE", "on_whole_minute", "validate_slots"]

#: Slots may start this far before the requested window or end this far after it (a provider
#: that answers in whole market days, a slot straddling the window edge).
WINDOW_TOLERANCE = timedelta(days=1)
#: Longest slot accepted; longer ones are almost certainly a unit or parsing mistake.
MAX_SLOT_LENGTH = timedelta(days=1)
#: Absolute price bound in minor units per kWh (1000 GBP/kWh); beyond it the data is garbage.
MAX_ABS_PRICE = 100_000.0

_TOP = MAX_ABS_PRICE
_BEFORE_ALL = datetime.min.replace(tzinfo=UTC)
_NO_TIME = timedelta(0)


def _aware(value: object) -> bool:
    return (
        isinstance(value, datetime) and value.tzinfo is not None and value.utcoffset() is not None
    )


def on_whole_minute(moment: datetime) -> bool:
    """Whether an aware ``moment`` lies on a whole UTC minute (seconds and microseconds 0)."""
    utc = moment.astimezone(UTC)
    return utc.second == 0 and utc.microsecond == 0


def validate_slots(
    slots: Iterable[object],
    start_utc: datetime,
    end_utc: datetime,
    *,
    currency: str | None = None,
) -> list[EnergyPriceSlot]:
    """Check every slot and return them sorted by start, normalised to UTC.

    Rules: each item is an :class:`EnergyPriceSlot`; datetimes are timezone-aware;
    ``valid_from`` and ``valid_to`` lie on whole UTC minutes (seconds and microseconds zero),
    so every length is a whole number of minutes, at least one — the EMHASS series steps in
    whole minutes and the store keeps whole seconds; ``valid_to > valid_from``; the length is
    at most :data:`MAX_SLOT_LENGTH`; the price is a finite number within
    :data:`MAX_ABS_PRICE`; no two slots start at the same moment or overlap; every slot lies
    within the requested window widened by :data:`WINDOW_TOLERANCE`; every slot has the same
    3-letter currency, ``currency`` when given (one unit describes a whole series).
    """
    low = start_utc - WINDOW_TOLERANCE
    high = end_utc + WINDOW_TOLERANCE
    # The currency a plain slot must have: the one given, if a slot may have it at all, else
    # the first slot's (one series, one currency); until then every slot is _checked.
    plain = currency if isinstance(currency, str) and len(currency) == 3 else None
    # Locals, not globals, in the loop below (it runs 100k times in a backfill).
    slot_type, moment, utc, number, flag, top = EnergyPriceSlot, datetime, UTC, float, bool, _TOP
    checked: list[EnergyPriceSlot] = []
    append = checked.append
    ordered = True  # each slot so far starts at or after the end of the one before it
    end = _BEFORE_ALL  # where the slot before ended (UTC, a whole minute) ...
    length: timedelta | None = None  # ... and how long (whole minutes, at most the longest)
    for index, item in enumerate(slots):
        # The plain slot (see the module docstring), one expression for speed: an exact
        # EnergyPriceSlot with exact UTC datetimes, edges as _plain_edges says, exact float
        # prices in range (NaN and the infinities fail the range), bool flags, a band only on
        # an estimate, and none of the daemon's own fields (the copy _checked makes drops
        # them). Anything else, good or bad, is for _checked to decide, with its message.
        if (
            type(item) is slot_type
            and type(valid_from := item.valid_from) is moment
            and type(valid_to := item.valid_to) is moment
            and valid_from.tzinfo is utc
            and valid_to.tzinfo is utc
            # Starting where the slot before ended and as long as it: on whole minutes, not
            # too long, in order and not before the window; only the window's end is left.
            and (
                (
                    (span := valid_to - valid_from) == length
                    and valid_from == end
                    and valid_from < high
                )
                or _plain_edges(valid_from, valid_to, span, low, high)
            )
            and type(price := item.price_pence) is number
            and -top <= price <= top
            and ((value := item.price_pence_exc_vat) is None or type(value) is number)
            and (value is None or -top <= value <= top)
            and ((value := item.energy_pence) is None or type(value) is number)
            and (value is None or -top <= value <= top)
            and item.currency == plain
            and type(item.provisional) is flag
            and type(estimate := item.estimate) is flag
            and (
                ((band_low := item.estimate_low_pence) is None and item.estimate_high_pence is None)
                or _plain_band(band_low, item.estimate_high_pence, estimate)
            )
            and item.market_pence is None
            and item.source is None
        ):
            slot = item
        else:
            slot = _checked(index, item, low, high, start_utc, end_utc, currency)
            currency = plain = slot.currency
            valid_from, valid_to = slot.valid_from, slot.valid_to
            span = valid_to - valid_from
        if valid_from < end:
            ordered = False
        end, length = valid_to, span
        append(slot)
    if not ordered:
        _sort_refusing_overlaps(checked)
    return checked


def _plain_edges(
    valid_from: datetime, valid_to: datetime, span: timedelta, low: datetime, high: datetime
) -> bool:
    """Whether the UTC edges of a slot ``span`` long pass every rule: whole minutes, a
    positive length of at most :data:`MAX_SLOT_LENGTH`, overlapping ``(low, high)``."""
    return (
        not (valid_from.second or valid_from.microsecond)
        and not (valid_to.second or valid_to.microsecond)
        and _NO_TIME < span <= MAX_SLOT_LENGTH
        and low < valid_to
        and valid_from < high
    )


def _plain_band(low: object, high: object, estimate: bool) -> bool:
    """No forecast band, or a plain one (float bounds in range, low <= high) on an estimate."""
    if low is None and high is None:
        return True
    top = MAX_ABS_PRICE
    return (
        estimate
        and (low is None or (type(low) is float and -top <= low <= top))
        and (high is None or (type(high) is float and -top <= high <= top))
        and (low is None or high is None or low <= high)
    )


def _checked(
    index: int,
    slot: object,
    low: datetime,
    high: datetime,
    start_utc: datetime,
    end_utc: datetime,
    currency: str | None,
) -> EnergyPriceSlot:
    """Every rule on one slot, each with its message; the slot normalised (UTC, floats)."""
    where = f"slot {index}"
    if not isinstance(slot, EnergyPriceSlot):
        raise SlotValidationError(f"{where}: expected EnergyPriceSlot, got {type(slot).__name__}")
    if not _aware(slot.valid_from) or not _aware(slot.valid_to):
        raise SlotValidationError(f"{where}: naive datetime (valid_from/valid_to need a tzinfo)")
    valid_from = slot.valid_from.astimezone(UTC)
    valid_to = slot.valid_to.astimezone(UTC)
    where = f"slot {index} ({valid_from.isoformat()})"
    for name, edge in (("valid_from", valid_from), ("valid_to", valid_to)):
        if not on_whole_minute(edge):
            raise SlotValidationError(
                f"{where}: {name} {edge.isoformat()} is not on a whole minute (UTC)"
            )
    if valid_to <= valid_from:
        raise SlotValidationError(f"{where}: valid_to is not after valid_from")
    if valid_to - valid_from > MAX_SLOT_LENGTH:
        raise SlotValidationError(f"{where}: longer than {MAX_SLOT_LENGTH}")
    for name in ("price_pence", "price_pence_exc_vat"):
        value = getattr(slot, name)
        if value is None and name == "price_pence_exc_vat":
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SlotValidationError(f"{where}: {name} is not a number ({value!r})")
        if not math.isfinite(value) or abs(value) > MAX_ABS_PRICE:
            raise SlotValidationError(f"{where}: {name} out of range ({value!r})")
    if not isinstance(slot.currency, str) or len(slot.currency) != 3:
        raise SlotValidationError(f"{where}: currency must be a 3-letter code")
    if currency is not None and slot.currency != currency:
        raise SlotValidationError(f"{where}: currency {slot.currency}, expected {currency}")
    for flag in ("provisional", "estimate"):
        if not isinstance(getattr(slot, flag), bool):
            raise SlotValidationError(f"{where}: {flag} must be true or false")
    for name in ("estimate_low_pence", "estimate_high_pence", "energy_pence"):
        value = getattr(slot, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SlotValidationError(f"{where}: {name} is not a number ({value!r})")
        if not math.isfinite(value) or abs(value) > MAX_ABS_PRICE:
            raise SlotValidationError(f"{where}: {name} out of range ({value!r})")
    band_low, band_high = slot.estimate_low_pence, slot.estimate_high_pence
    if (band_low is not None or band_high is not None) and not slot.estimate:
        raise SlotValidationError(f"{where}: a forecast band on a slot that is no estimate")
    if band_low is not None and band_high is not None and band_low > band_high:
        raise SlotValidationError(f"{where}: estimate_low_pence above estimate_high_pence")
    if valid_to <= low or valid_from >= high:
        raise SlotValidationError(
            f"{where}: outside the requested window {start_utc.isoformat()} .. "
            f"{end_utc.isoformat()}"
        )
    return EnergyPriceSlot(
        valid_from=valid_from,
        valid_to=valid_to,
        price_pence=float(slot.price_pence),
        currency=slot.currency,
        price_pence_exc_vat=_optional_float(slot.price_pence_exc_vat),
        provisional=slot.provisional,
        estimate=slot.estimate,
        estimate_low_pence=_optional_float(slot.estimate_low_pence),
        estimate_high_pence=_optional_float(slot.estimate_high_pence),
        energy_pence=_optional_float(slot.energy_pence),
    )


def _sort_refusing_overlaps(checked: list[EnergyPriceSlot]) -> None:
    """Sort ``checked`` by start in place; two slots starting together or overlapping are
    refused, the first such pair in that order named."""
    checked.sort(key=lambda s: s.valid_from)
    for before, after in itertools.pairwise(checked):
        if after.valid_from == before.valid_from:
            raise SlotValidationError(f"duplicate slot at {after.valid_from.isoformat()}")
        if after.valid_from < before.valid_to:
            raise SlotValidationError(
                f"overlapping slots at {before.valid_from.isoformat()} and "
                f"{after.valid_from.isoformat()}"
            )


def _optional_float(value: float | None) -> float | None:
    return None if value is None else float(value)
