"""The run report as PDF (ReportLab): the same document as the JSON, paginated for people and inspectors.

Every page carries "page n of m" and the report's own hash (``report_hash``), so a printed page
can be matched to the JSON that ``verify_report`` re-verifies against the database.
"""

from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

PAGE = landscape(A4)
MARGIN = 15 * mm
STYLES = getSampleStyleSheet()
CELL = STYLES["BodyText"].clone("cell", fontSize=7.5, leading=9)
MONO = STYLES["BodyText"].clone("mono", fontName="Courier", fontSize=6.5, leading=8)


def _numbered_canvas(report_hash: str, title: str):
    """A canvas that holds its pages until the end, so each footer can say "of m"."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages = []

        def showPage(self):  # noqa: N802 - ReportLab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                self.setFont("Helvetica", 7)
                self.setFillColor(colors.grey)
                self.drawString(MARGIN, 8 * mm, f"{title}  |  report hash (SHA-256) {report_hash}")
                self.drawRightString(PAGE[0] - MARGIN, 8 * mm, f"Page {number} of {total}")
                super().showPage()
            super().save()

    return NumberedCanvas


def _p(text, style=CELL) -> Paragraph:
    return Paragraph(escape("" if text is None else str(text)).replace("\n", "<br/>"), style)


def _table(header: list[str] | None, rows: list[list], widths: list[float]) -> LongTable:
    bold = STYLES["BodyText"].clone("h", fontSize=7.5, fontName="Helvetica-Bold")
    data = [[_p(cell, bold) for cell in header]] if header else []
    data += [[cell if isinstance(cell, Paragraph) else _p(cell) for cell in row] for row in rows]
    usable = PAGE[0] - 2 * MARGIN
    table = LongTable(data, colWidths=[usable * width for width in widths], repeatRows=1 if header else 0)
    style = [("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke))
    else:  # a summary: the label column is shaded instead
        style += [
            ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
            ("BACKGROUND", (2, 0), (2, -1), colors.whitesmoke),
        ]
    table.setStyle(TableStyle(style))
    return table


def _section(title: str):
    return [Spacer(1, 4 * mm), Paragraph(escape(title), STYLES["Heading2"])]


def report_pdf(report: dict) -> bytes:
    """Render ``report`` (``workflows.report.workflow_report``) as PDF bytes."""
    run = report["workflow"]
    title = f"Run report: {run['name']} (workflow {run['id']})"
    story = [Paragraph(escape(title), STYLES["Title"])]
    protocol = report["protocol"]
    summary = [
        ["Status", run["status"], "Mode", run["mode"]],
        ["Created by", run["created_by"], "Created", run["created_at"]],
        ["Started", run["started_at"], "Finished", run["finished_at"]],
        [
            "Protocol",
            f"{protocol['name']} v{protocol['version']} (id {protocol['id']})" if protocol else "ad-hoc step list",
            "Protocol hash",
            _p(protocol["content_hash"] if protocol else "-", MONO),
        ],
        ["Record hash", _p(report["record_hash"], MONO), "Released", report["release"]["detail"]],
    ]
    story.append(_table(None, summary, [0.12, 0.38, 0.12, 0.38]))

    story += _section("Samples and plates")
    samples = [[s["barcode"], s["sample_type"], s["plate"] or "-", s["well"] or "-"] for s in report["samples"]]
    story.append(_table(["Sample", "Type", "Plate", "Well"], samples or [["-", "", "", ""]], [0.3, 0.2, 0.3, 0.2]))

    story += _section("Run-steps and their log entries")
    steps = []
    for step in report["steps"]:
        actions = "; ".join(
            f"entry #{a['log_entry']} attempt {a['attempt']} {a['status']} ({a['caused_by']}) "
            f"request {a['request_sha256'][:16]}… response {(a['response_sha256'] or '-')[:16]}…"
            for a in step["actions"]
        )
        steps.append(
            [
                step["position"],
                step["step_name"],
                step["action_type"],
                step["device"],
                step["status"],
                step["attempts"],
                f"{step['started_at'] or '-'}\n{step['finished_at'] or '-'}",
                _p(actions or "no log entry", MONO),
            ]
        )
    story.append(
        _table(
            ["#", "Step", "Action", "Device", "Outcome", "Attempts", "Started / finished", "Log entries (chain)"],
            steps or [["-"] * 8],
            [0.03, 0.12, 0.12, 0.1, 0.07, 0.06, 0.14, 0.36],
        )
    )

    if report["cell_analysis"]:
        story += _section("Cell analysis")
        story.append(
            _table(
                ["Sample", "Cells", "Confluence %", "Viability %", "Measured", "Log entry"],
                [
                    [r["sample"], r["cell_count"], r["confluence"], r["viability"], r["measured_at"], r["log_entry"]]
                    for r in report["cell_analysis"]
                ],
                [0.2, 0.12, 0.12, 0.12, 0.3, 0.14],
            )
        )

    story += _section("Events")
    events = [[e["at"], e["step"] or "run", e["from"] or "-", e["to"], e["by"], e["reason"]] for e in report["events"]]
    story.append(
        _table(["At", "Step", "From", "To", "By", "Reason"], events or [["-"] * 6], [0.2, 0.06, 0.1, 0.1, 0.17, 0.37])
    )

    story += _section("Deviations")
    deviations = [[d["kind"], d["detail"]] for d in report["deviations"]]
    story.append(_table(["Kind", "Detail"], deviations or [["none", "no deviation recorded"]], [0.2, 0.8]))

    story += _section("Signatures")
    signatures = [
        [
            s["printed_name"],
            s["signer"],
            s["meaning"],
            s["signed_at"],
            s["comment"],
            "yes" if s["covers_current_content"] else "NO: the record changed after signing",
            _p(s["content_hash"], MONO),
        ]
        for s in report["signatures"]
    ]
    story.append(
        _table(
            ["Printed name", "User", "Meaning", "Signed (UTC)", "Comment", "Covers this record", "Signed hash"],
            signatures or [["no signature", "", "", "", "", "", ""]],
            [0.14, 0.09, 0.08, 0.15, 0.18, 0.12, 0.24],
        )
    )

    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 4 * mm,
        title=title,
        author="LabCore",
        invariant=1,  # no creation date or random id in the file: the same report renders the same bytes
    )
    document.build(story, canvasmaker=_numbered_canvas(report["report_hash"], title))
    return buffer.getvalue()
