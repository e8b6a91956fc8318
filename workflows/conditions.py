"""Conditions on measurements (``until``, ``run_if``): their shape, and their evaluation.

A condition reads each of the run's samples' latest cell-analysis result in this run:
``{"metric": "confluence" | "cell_count" | "viability", "op": ">=" | ">" | "<=" | "<",
"value": NUMBER, "samples": "all" | "any"}``. Pure functions: the caller reads the results and
records the evaluation (the values it used) in the execution log.

A sample with no result yet does not satisfy the condition: with ``"all"`` the condition is
false until every sample has been measured; with ``"any"`` it is true as soon as one measured
sample satisfies it. A run with no measured sample at all evaluates to false, never an error.
"""

import math
import operator
from dataclasses import dataclass

METRICS = ("confluence", "cell_count", "viability")
OPERATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
QUANTIFIERS = ("all", "any")


def condition_errors(condition) -> list[str]:
    """What is wrong with ``condition`` (empty when it is a valid condition or None)."""
    if condition is None:
        return []
    if not isinstance(condition, dict):
        return ["must be an object with metric, op, value and samples"]
    errors = []
    unknown = set(condition) - {"metric", "op", "value", "samples"}
    if unknown:
        errors.append("unknown keys: " + ", ".join(sorted(map(str, unknown))))
    if condition.get("metric") not in METRICS:
        errors.append("metric must be one of: " + ", ".join(METRICS))
    if condition.get("op") not in OPERATORS:
        errors.append("op must be one of: " + ", ".join(OPERATORS))
    value = condition.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        errors.append("value must be a finite number")
    if condition.get("samples", "all") not in QUANTIFIERS:
        errors.append("samples must be all or any")
    return errors


@dataclass(frozen=True)
class Evaluation:
    """The outcome of a condition and the measurements it read."""

    outcome: bool
    values: dict  # sample barcode -> the metric's value (None when not measured in this run)
    result_ids: list  # the cell-analysis results read

    def describe(self, condition: dict) -> str:
        measured = {barcode: value for barcode, value in self.values.items() if value is not None}
        shown = ", ".join(f"{barcode} {value:g}" for barcode, value in measured.items()) or "no measurement yet"
        verdict = "holds" if self.outcome else "does not hold"
        return (
            f"{condition['metric']} {condition['op']} {condition['value']:g} ({condition.get('samples', 'all')} "
            f"samples) {verdict}: {shown}"
        )


def condition_evaluate(condition: dict, latest: dict) -> Evaluation:
    """Evaluate ``condition`` on ``latest``: sample barcode -> (result id, metrics dict) or None."""
    metric, compare, threshold = condition["metric"], OPERATORS[condition["op"]], condition["value"]
    values, result_ids, verdicts = {}, [], []
    for barcode, measurement in latest.items():
        if measurement is None or measurement[1].get(metric) is None:
            values[barcode] = None
            verdicts.append(False)
            continue
        result_id, metrics = measurement
        values[barcode] = float(metrics[metric])
        result_ids.append(result_id)
        verdicts.append(compare(values[barcode], threshold))
    quantifier = all if condition.get("samples", "all") == "all" else any
    return Evaluation(outcome=bool(verdicts) and quantifier(verdicts), values=values, result_ids=result_ids)
