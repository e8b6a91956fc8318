"""The run report (electronic batch record): JSON golden file, PDF, verify_report."""

import json
import os
import re
import shutil
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from executionlogs.models import ExecutionLog
from executionlogs.services import execution_log_create
from tests.factories import RunStepFactory, UserFactory, WorkflowFactory
from tests.utils import queries_for
from tests.workflows.test_signatures import PASSWORD, client_of, person, sign
from workflows.models import RunStep, RunUnit
from workflows.report import report_hash, workflow_report

pytestmark = pytest.mark.django_db

GOLDEN = Path(__file__).parent / "golden" / "run_report.json"
# Values that differ between runs of the test (database ids, clocks, hashes over them): replaced
# by their kind, so the golden file holds the shape and every stable value.
VOLATILE_KEYS = re.compile(
    r"^(id|log_entry|latency_ms|.*_at|at|entry_hash|content_hash|record_hash|report_hash|request_sha256|response_sha256)$"
)


def stable(value, key=""):
    if isinstance(value, dict):
        return {k: stable(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [stable(item, key) for item in value]
    if VOLATILE_KEYS.match(key) and value is not None:
        return f"<{key}>"
    return value


@pytest.fixture
def signed_run(demo_lab):
    """A manual two-step run, executed and completed, signed performed by alice and reviewed by bob."""
    alice = person("alice-signer", first_name="Alice", last_name="Martin")
    bob = person("bob-signer", first_name="Bob", last_name="Okafor")
    client = client_of(alice)
    body = {
        "name": "Report demo run",
        "device_id": "liquid-handler-1",
        "sample_barcodes": ["SAMPLE001", "SAMPLE002"],
        "steps": ["pipette_transfer", "dispense_reagent"],
    }
    workflow_id = client.post("/api/workflows", body, format="json").json()["id"]
    client.post(f"/api/workflows/{workflow_id}/start")
    client.post(f"/api/workflows/{workflow_id}/execute-step")
    client.post(f"/api/workflows/{workflow_id}/execute-step")
    assert client.post(f"/api/workflows/{workflow_id}/complete").status_code == 200
    assert sign(client, f"/api/workflows/{workflow_id}", meaning="performed", comment="ran it").status_code == 201
    reviewed = sign(client_of(bob), f"/api/workflows/{workflow_id}", meaning="reviewed", comment="checked")
    assert reviewed.status_code == 201
    return workflow_id, client


def test_the_report_json_matches_the_golden_file(signed_run):
    workflow_id, client = signed_run
    response = client.get(f"/api/workflows/{workflow_id}/report?format=json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    report = response.json()
    assert report["report_hash"] == report_hash(report)
    if os.environ.get("LABCORE_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(stable(report), indent=2, sort_keys=True) + "\n")
    assert stable(report) == json.loads(GOLDEN.read_text())


def test_each_action_names_its_log_entry_in_the_chain(signed_run):
    workflow_id, client = signed_run
    report = client.get(f"/api/workflows/{workflow_id}/report").json()
    for step in report["steps"]:
        (action,) = step["actions"]
        entry = ExecutionLog.objects.get(pk=action["log_entry"])
        assert entry.run_step.position == step["position"] and entry.entry_hash == action["entry_hash"]


def pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_the_pdf_names_the_run_each_step_and_each_signature_on_numbered_pages(signed_run, tmp_path):
    workflow_id, client = signed_run
    response = client.get(f"/api/workflows/{workflow_id}/report?format=pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = pdf_text(response.content, tmp_path)
    report = client.get(f"/api/workflows/{workflow_id}/report").json()
    assert "Report demo run" in text
    for step in ("pipette_transfer", "dispense_reagent"):
        assert step in text
    for name, meaning in (("Alice Martin", "performed"), ("Bob Okafor", "reviewed")):
        assert name in text and meaning in text
    pages = re.findall(r"Page (\d+) of (\d+)", text)
    assert pages and pages[-1][0] == pages[-1][1]
    assert text.count(report["report_hash"]) == len(pages)  # the report's own hash on every page


def test_a_bad_format_is_400_naming_it(signed_run):
    workflow_id, client = signed_run
    response = client.get(f"/api/workflows/{workflow_id}/report?format=docx")
    assert response.status_code == 400 and "format" in response.json()["fields"]


def verify_report(workflow_id, path) -> str:
    out = StringIO()
    call_command("verify_report", str(workflow_id), str(path), stdout=out)
    return out.getvalue()


def test_verify_report_passes_then_fails_after_one_byte_changes(signed_run, tmp_path):
    workflow_id, client = signed_run
    path = tmp_path / "report.json"
    path.write_bytes(client.get(f"/api/workflows/{workflow_id}/report").content)
    assert "OK" in verify_report(workflow_id, path)

    data = bytearray(path.read_bytes())
    index = data.index(b"Report demo run")
    data[index] = ord("X")  # one byte: the run's name
    path.write_bytes(bytes(data))
    with pytest.raises(CommandError, match="report_hash"):
        verify_report(workflow_id, path)


def test_verify_report_fails_when_the_database_no_longer_matches(signed_run, tmp_path):
    workflow_id, client = signed_run
    path = tmp_path / "report.json"
    path.write_bytes(client.get(f"/api/workflows/{workflow_id}/report").content)
    # A third signature since the export: the database's report differs, the file's hash is intact.
    assert sign(client, f"/api/workflows/{workflow_id}", meaning="approved", password=PASSWORD).status_code == 201
    with pytest.raises(CommandError, match="signatures"):
        verify_report(workflow_id, path)


def test_verify_report_refuses_a_file_that_is_not_json(signed_run, tmp_path):
    workflow_id, _ = signed_run
    path = tmp_path / "report.json"
    path.write_text("{not json")
    with pytest.raises(CommandError, match="not a JSON"):
        verify_report(workflow_id, path)


def test_deviations_list_window_violations_unknown_outcomes_and_retries(demo_lab):
    workflow = WorkflowFactory(name="deviating")
    RunUnit.objects.create(workflow=workflow, position=1, step_name="Feed", step_position=1)  # on time
    late = RunUnit.objects.create(
        workflow=workflow, position=2, step_name="Image", step_position=2, window_missed_seconds=42.5
    )
    resolver = UserFactory(username="olga")
    unknown = RunStepFactory(workflow=workflow, position=1, step_name="Feed", status="succeeded", attempt=1)
    unknown.resolution, unknown.resolved_by = "mark_succeeded", resolver
    RunStep.objects.bulk_update([unknown], ["resolution", "resolved_by"])
    RunStepFactory(workflow=workflow, position=2, step_name="Image", status="succeeded", attempt=3)
    deviations = workflow_report(workflow.pk)["deviations"]
    assert [d["kind"] for d in deviations] == ["window_missed", "unknown_outcome", "retry"]
    assert deviations[0]["step_name"] == late.step_name and deviations[0]["late_by_seconds"] == 42.5
    assert deviations[1]["resolution"] == "mark_succeeded" and deviations[1]["resolved_by"] == "olga"
    assert deviations[2] == {"kind": "retry", "step": 2, "attempts": 3, "detail": "step 2 Image took 3 attempts"}


def test_the_report_reads_in_the_same_number_of_queries_whatever_the_run_size(demo_lab):
    def run_with(steps: int) -> int:
        workflow = WorkflowFactory()
        for position in range(1, steps + 1):
            step = RunStepFactory(workflow=workflow, position=position, status="succeeded", attempt=1)
            execution_log_create(
                device=step.device, action_type="a", request={}, response={}, status="success",
                latency_ms=1.0, workflow=workflow, run_step=step,
            )  # fmt: skip
        return queries_for(lambda: workflow_report(workflow.pk))

    assert run_with(2) == run_with(12)
