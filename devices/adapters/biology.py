"""The mock's cell biology: how a sample's confluence, count and viability evolve in culture.

Pure and deterministic (no I/O, no clock, no database): the mock adapter and the device
simulator both reach it through ``responses.py``, so the same inputs give the same measurement
on either. docs/closed-loop.md describes the model; in short:

- **Growth** is logistic in confluence (percent, carrying capacity 100 %), after a lag phase:
  ``logit(c(t)) = logit(c0) + r * max(0, t - lag)`` with ``r = ln 2 / doubling_hours``, the
  doubling time of the exponential phase. Each sample's constants (doubling 24-40 h, lag
  4-10 h, seeding confluence 12-18 %, cells at confluence, baseline viability) are drawn from a
  hash of its barcode and the run's id: the same sample grows a little differently in each run,
  always the same way in one run.
- **Passage** (a step that detaches the cells) divides the confluence by the split ratio and
  starts a new lag phase from there.
- **Feeding** (fresh media) resets the feeding clock. A plate overdue for feeding (more than
  ``FEED_INTERVAL_HOURS`` since its last media change, the start or a passage) loses viability
  at ``VIABILITY_LOSS_PER_OVERDUE_HOUR``; an over-confluent one loses some as well.
- **Measurement noise** is multiplicative on confluence and count, additive on viability, drawn
  from a generator seeded by (barcode, run, time in culture): measuring twice at the same time
  gives the same numbers.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass

PASSAGE = "passage"
FEED = "feed"
DEFAULT_SPLIT_RATIO = 4.0
FEED_INTERVAL_HOURS = 48.0
VIABILITY_LOSS_PER_OVERDUE_HOUR = 0.3
CONFLUENCE_NOISE = 0.03  # relative standard deviation of a confluence measurement
COUNT_NOISE = 0.05  # relative standard deviation of a cell count
VIABILITY_NOISE = 0.5  # percentage points
MAX_CONFLUENCE = 100.0


def _unit(*key) -> float:
    """A number in [0, 1) fixed by ``key``."""
    digest = hashlib.sha256(":".join(map(str, key)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Traits:
    """A sample's constants in one run."""

    doubling_hours: float
    lag_hours: float
    seed_confluence: float  # percent
    cells_at_confluence: float
    base_viability: float  # percent

    @property
    def rate_per_hour(self) -> float:
        return math.log(2) / self.doubling_hours


@dataclass(frozen=True)
class CultureEvent:
    """Something the run did to the culture, ``hours`` after the run started (simulated time)."""

    kind: str  # PASSAGE | FEED
    hours: float
    split_ratio: float = DEFAULT_SPLIT_RATIO


def sample_traits(barcode: str, workflow_id=None) -> Traits:
    """The growth constants of ``barcode`` in run ``workflow_id`` (None: outside any run)."""
    return Traits(
        doubling_hours=24.0 + 16.0 * _unit("doubling", barcode, workflow_id),
        lag_hours=4.0 + 6.0 * _unit("lag", barcode, workflow_id),
        seed_confluence=12.0 + 6.0 * _unit("seed", barcode, workflow_id),
        cells_at_confluence=100_000 + 40_000 * _unit("capacity", barcode),
        base_viability=94.0 + 5.0 * _unit("viability", barcode),
    )


def culture_event_kind(parameters: dict | None) -> str | None:
    """What an action does to the culture, from its parameters: detaching cells (a reagent of
    trypsin) is a passage, fresh media (a reagent naming media or medium) is a feed, else nothing."""
    reagent = str((parameters or {}).get("reagent") or "").lower()
    if "trypsin" in reagent or "tryple" in reagent:
        return PASSAGE
    if "media" in reagent or "medium" in reagent:
        return FEED
    return None


def _logistic(c0: float, rate: float, lag: float, hours: float) -> float:
    grown = rate * max(0.0, hours - lag)
    logit = math.log(c0 / (MAX_CONFLUENCE - c0)) + grown
    return MAX_CONFLUENCE / (1.0 + math.exp(-logit))


def culture_state(traits: Traits, hours: float, events=()) -> dict:
    """The true (noise-free) confluence and viability ``hours`` into the run, given ``events``."""
    hours = max(0.0, float(hours))
    c0, since, last_media = traits.seed_confluence, 0.0, 0.0
    for event in sorted(events, key=lambda e: e.hours):
        if event.hours > hours:
            break
        if event.kind == PASSAGE:
            at = _logistic(c0, traits.rate_per_hour, traits.lag_hours, event.hours - since)
            c0 = max(at / max(float(event.split_ratio), 1.0), 0.01)
            since = last_media = event.hours
        elif event.kind == FEED:
            last_media = event.hours
    confluence = _logistic(c0, traits.rate_per_hour, traits.lag_hours, hours - since)
    overdue = max(0.0, hours - last_media - FEED_INTERVAL_HOURS)
    viability = traits.base_viability - VIABILITY_LOSS_PER_OVERDUE_HOUR * overdue
    viability -= 10.0 * max(0.0, confluence - 90.0) / 10.0
    return {"confluence": confluence, "viability": min(100.0, max(0.0, viability))}


def measurement(barcode: str, hours: float, *, workflow_id=None, events=(), noise: bool = True) -> dict:
    """What the vision service reports for one sample ``hours`` into the run (with noise, deterministic)."""
    traits = sample_traits(barcode, workflow_id)
    state = culture_state(traits, hours, events)
    confluence, viability = state["confluence"], state["viability"]
    cells = traits.cells_at_confluence * confluence / MAX_CONFLUENCE
    if noise:
        rng = random.Random(f"{barcode}:{workflow_id}:{float(hours):.4f}")
        confluence *= math.exp(rng.gauss(0.0, CONFLUENCE_NOISE))
        cells *= math.exp(rng.gauss(0.0, COUNT_NOISE))
        viability += rng.gauss(0.0, VIABILITY_NOISE)
    return {
        "sample": barcode,
        "cell_count": int(round(cells)),
        "confluence": round(min(MAX_CONFLUENCE, max(0.0, confluence)), 2),
        "viability": round(min(100.0, max(0.0, viability)), 2),
        "hours_in_culture": round(max(0.0, float(hours)), 3),
    }


def culture_hours(culture: dict, now: float) -> tuple[float, list[CultureEvent]]:
    """Simulated hours in culture at ``now`` (epoch seconds) and the events so far, from a
    dispatch's ``culture``: ``{"started_at": epoch, "time_scale": s, "events": [{"kind", "at",
    "split_ratio"}]}`` (the run's start and what it did, real epochs; simulated = real / scale)."""
    started = float(culture["started_at"])
    scale = float(culture.get("time_scale") or 1.0)
    events = [
        CultureEvent(
            kind=event["kind"],
            hours=max(0.0, (float(event["at"]) - started) / scale / 3600.0),
            split_ratio=float(event.get("split_ratio") or DEFAULT_SPLIT_RATIO),
        )
        for event in culture.get("events") or ()
        if float(event["at"]) <= now
    ]
    return max(0.0, (now - started) / scale / 3600.0), events
