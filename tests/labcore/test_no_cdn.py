"""No CDN anywhere: LabCore's own templates and scripts load nothing from another host.

Pages must work in a lab without internet; the browser tests also check at run time
(``Page.external_requests``). This scan catches a CDN link before any page is opened.
"""

import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
EXTERNAL = re.compile(
    r"""(?:\b(?:src|href)\s*=\s*["']|url\(\s*["']?|@import\s+["']|\bfetch\(\s*["']|\bimport\s+[^;]*?from\s+["'])"""
    r"""(?:https?:)?//""",
    re.IGNORECASE,
)


def own_front_end_files() -> list[Path]:
    folders = [ROOT / "templates", ROOT / "static"]
    files = [p for folder in folders for p in folder.rglob("*") if p.suffix in {".html", ".js", ".css"}]
    # Vendored libraries are pinned releases copied unchanged; the browser tests cover what they load.
    return [p for p in files if "vendor" not in p.relative_to(ROOT).parts]


def test_the_scan_sees_a_cdn_link():
    assert EXTERNAL.search('<script src="https://cdn.example.org/htmx.min.js"></script>')
    assert EXTERNAL.search("background: url(//fonts.example.com/a.woff2)")
    assert not EXTERNAL.search("<script src=\"{% static 'vendor/htmx/htmx.min.js' %}\"></script>")


def test_no_template_or_script_of_ours_loads_from_another_host():
    files = own_front_end_files()
    assert files, "the scan found no templates or static files: the paths are wrong"
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if EXTERNAL.search(line)
    ]
    assert offenders == []
