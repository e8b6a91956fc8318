"""Only the transitions module writes a workflow's or run-step's status (invariant 10).

The project's own modules are parsed (not imported) and every way of writing a status is
listed: an assignment to ``<x>.status`` or ``<x>.status_reason``, a ``status=`` keyword to
``update()``, ``status`` in ``save(update_fields=...)`` or ``bulk_update(..., fields)``, and SQL
text that sets a status column. Each one outside ``workflows/services/transitions.py`` (and
migrations) must be on the short list of writes that are not about runs: a device's status,
a protocol's publication.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWNER = "workflows/services/transitions.py"
SKIPPED_DIRS = {"migrations", "tests", ".venv", "bench", ".data", ".git", "node_modules"}
STATUS_FIELDS = {"status", "status_reason"}

# (file, what) of status writes that are not a workflow's or a run-step's: devices, bookings,
# queue entries, protocols.
NOT_RUNS = {
    ("devices/adapters/http.py", "self.status"),  # an HTTP answer's status code
    ("devices/adapters/sila2.py", "self.status"),  # a SiLA failure's dispatch status
    ("devices/services.py", "device.status"),
    ("devices/services.py", "Device.update(status=)"),
    ("devices/handoff.py", "Device.update(status=)"),
    ("devices/handoff.py", "booking.status"),
    ("devices/handoff.py", "entry.status"),
    ("devices/handoff.py", "Booking.bulk_update(status)"),
    ("devices/handoff.py", "QueueEntry.bulk_update(status)"),
    ("workflows/services/protocols.py", "protocol.status"),
    ("workflows/services/protocols.py", "protocol.save(update_fields=status)"),
    ("workflows/demo.py", "protocol.status"),
}


def _strings(node) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return [value for element in node.elts for value in _strings(element)]
    return []


def _root(node) -> str:
    """The name a call chain starts from: ``Device`` in ``Device.objects.filter(...).update``."""
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else "?"


def status_writes(source: str) -> list[str]:
    """Every status write in ``source``, described as ``what@line``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            # ``a.status = x`` and unpacking (``a.status, a.at = x, y``) alike.
            for part in ast.walk(target):
                if isinstance(part, ast.Attribute) and part.attr in STATUS_FIELDS and isinstance(part.ctx, ast.Store):
                    found.append(f"{ast.unparse(part.value)}.{part.attr}@{node.lineno}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, receiver = node.func.attr, _root(node.func.value)
            keywords = {keyword.arg for keyword in node.keywords}
            if method == "update" and keywords & STATUS_FIELDS:
                found.append(f"{receiver}.update(status=)@{node.lineno}")
            for keyword in node.keywords:
                if keyword.arg == "update_fields" and STATUS_FIELDS & set(_strings(keyword.value)):
                    found.append(f"{receiver}.save(update_fields=status)@{node.lineno}")
            if method == "bulk_update" and any(STATUS_FIELDS & set(_strings(arg)) for arg in node.args[1:]):
                found.append(f"{receiver}.bulk_update(status)@{node.lineno}")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = " ".join(node.value.split()).lower()
            if 'set "status"' in text or "set status" in text:
                found.append(f"SQL SET status@{node.lineno}")
    return found


def project_modules():
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if SKIPPED_DIRS & set(relative.parts):
            continue
        yield relative.as_posix(), path.read_text()


def test_the_scanner_finds_each_kind_of_status_write():
    source = """
workflow.status = "running"
step.status_reason = "x"
step.status, step.error = "failed", "boom"
RunStep.objects.filter(pk=1).update(status="skipped")
workflow.save(update_fields=["status", "updated_at"])
RunStep.objects.bulk_update(steps, ["status"])
cursor.execute('UPDATE "workflows_runstep" SET "status" = %s')
sql = f'UPDATE {table} SET status = %s'
"""
    kinds = [write.split("@")[0] for write in status_writes(source)]
    assert kinds == [
        "workflow.status",
        "step.status_reason",
        "step.status",
        "RunStep.update(status=)",
        "workflow.save(update_fields=status)",
        "RunStep.bulk_update(status)",
        "SQL SET status",
        "SQL SET status",
    ]


def test_only_the_transitions_module_writes_a_run_status():
    outside = []
    owner_writes = 0
    for relative, source in project_modules():
        for write in status_writes(source):
            what = write.split("@")[0]
            if relative == OWNER:
                owner_writes += 1
            elif (relative, what) not in NOT_RUNS:
                outside.append(f"{relative}: {write}")
    assert outside == [], "status written outside workflows/services/transitions.py"
    assert owner_writes >= 3  # the module itself is scanned: the scanner sees its writes
