"""Canned device responses: one code path shared by the mock adapter and the device simulator.

Everything here is pure (no I/O, no database): it turns an ActionType's ``mock_response``
template and the dispatch's parameters into a response, and asks the growth model
(``biology.py``) what the vision service measures, so a run over days yields a plausible
growth curve.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from datetime import datetime

from devices.adapters.biology import culture_hours, measurement

VISION_KIND = "vision"

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

# One passage cycle: without an explicit time in culture, each sample is re-seeded every week
# at its own phase, so successive runs within a week see it grow.
PASSAGE_CYCLE_HOURS = 168.0


def simulated_latency(action_type, scale: float) -> float:
    """The type's mock latency with its jitter (a fraction either way), times ``scale``."""
    base = float(action_type.mock_latency_seconds or 0.0)
    jitter = float(action_type.mock_latency_jitter or 0.0)
    if base and jitter:
        base *= 1 + random.uniform(-jitter, jitter)
    return max(0.0, base * float(scale))


def parameters_with_defaults(action_type, parameters: dict | None) -> dict:
    """The dispatch's parameters over the defaults declared in the type's JSON Schema."""
    properties = (action_type.parameter_schema or {}).get("properties") or {}
    merged = {
        name: spec["default"] for name, spec in properties.items() if isinstance(spec, dict) and "default" in spec
    }
    merged.update(parameters or {})
    return merged


def render_template(template, values: dict):
    """Substitute ``{name}`` placeholders from ``values`` into a JSON template, recursively.

    A string that is exactly one placeholder takes the value itself (so ``"{volume_ul}"``
    stays a number); placeholders inside a longer string are formatted as text. Unknown
    placeholders are left as they are, so a template never makes a dispatch fail.
    """
    if isinstance(template, dict):
        return {key: render_template(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [render_template(value, values) for value in template]
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template)
    return template


def template_values(*, device_id: str, parameters: dict, attempt_id: str = "", workflow_id=None, samples=()) -> dict:
    """What a template may name: every parameter, plus a few facts about the dispatch."""
    return {
        "device_id": device_id,
        "attempt_id": attempt_id,
        "workflow_id": workflow_id,
        "sample_count": len(samples),
        **parameters,
    }


def _phase_hours(barcode: str) -> float:
    """Where ``barcode`` is in its weekly passage cycle at epoch 0 (fixed by the barcode)."""
    digest = hashlib.sha256(f"phase:{barcode}".encode()).digest()
    return PASSAGE_CYCLE_HOURS * int.from_bytes(digest[:8], "big") / 2**64


def hours_in_culture(barcode: str, *, now: float, started_at=None) -> float:
    """Hours since the sample was seeded, outside a run's culture context.

    ``started_at`` (epoch seconds, or an ISO 8601 string) fixes the seeding time; without it the
    sample follows a weekly passage cycle at a phase of its own.
    """
    if started_at is not None:
        if isinstance(started_at, str):
            started_at = datetime.fromisoformat(started_at.replace("Z", "+00:00")).timestamp()
        return max(0.0, (now - float(started_at)) / 3600.0)
    return (now / 3600.0 + _phase_hours(barcode)) % PASSAGE_CYCLE_HOURS


def cell_analysis(barcode: str, hours: float, *, workflow_id=None, events=(), noise: bool = True) -> dict:
    """Cell count, confluence and viability of one sample after ``hours`` in culture (biology.py)."""
    return measurement(barcode, hours, workflow_id=workflow_id, events=events, noise=noise)


def vision_results(
    samples, *, parameters: dict, now: float | None = None, started_at=None, workflow_id=None, culture=None
) -> list[dict]:
    """One cell analysis per sample, for ``vision.analyse``.

    Time in culture, first that applies: ``parameters["hours_in_culture"]``; the run's
    ``culture`` (its start, time scale and passages and feeds so far, sent with the dispatch:
    simulated hours = real seconds since the start / time scale / 3600); ``started_at``, a
    seeding time for every sample or a ``{barcode: time}`` mapping (device config); else a weekly
    cycle per sample.
    """
    now = time.time() if now is None else now
    run_hours, events = None, []
    in_run = isinstance(culture, dict) and culture.get("started_at") is not None
    if parameters.get("hours_in_culture") is None and in_run:
        run_hours, events = culture_hours(culture, now)
    results = []
    for barcode in samples:
        if parameters.get("hours_in_culture") is not None:
            hours = float(parameters["hours_in_culture"])
        elif run_hours is not None:
            hours = run_hours
        else:
            seeded = started_at.get(barcode) if isinstance(started_at, dict) else started_at
            hours = hours_in_culture(barcode, now=now, started_at=seeded)
        results.append(cell_analysis(barcode, hours, workflow_id=workflow_id, events=events))
    return results


def canned_response(
    action_type, *, device_id: str, parameters: dict, samples=(), attempt_id="", workflow_id=None, **vision
) -> dict:
    """The response a simulated device gives for one action: template, plus vision results."""
    values = template_values(
        device_id=device_id,
        parameters=parameters_with_defaults(action_type, parameters),
        attempt_id=attempt_id,
        workflow_id=workflow_id,
        samples=samples,
    )
    response = render_template(action_type.mock_response or {}, values)
    if not isinstance(response, dict):
        response = {"value": response}
    if action_type.device_kind == VISION_KIND:
        response["results"] = vision_results(samples, parameters=parameters or {}, workflow_id=workflow_id, **vision)
    return response
