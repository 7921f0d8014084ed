"""axe-core, the accessibility checker, for the browser tests, without node:
one pinned release's npm tarball, fetched once with urllib, checked against
the integrity the npm registry publishes for it, kept in a cache folder and
injected into the page under test.

To move to another release, take its "dist.integrity" from
https://registry.npmjs.org/axe-core/<version> and change both constants.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

VERSION = "4.14.1"
INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
TARBALL = f"https://registry.npmjs.org/axe-core/-/axe-core-{VERSION}.tgz"
SCRIPT = "package/axe.min.js"


def _intact(data: bytes) -> bool:
    algorithm, _, digest = INTEGRITY.partition("-")
    return base64.b64encode(hashlib.new(algorithm, data).digest()).decode() == digest


def axe_source(cache: Path) -> str:
    """axe.min.js of the pinned release. The tarball is kept as downloaded
    and checked on every use, so a cache altered since is never run."""
    tgz = cache / f"axe-core-{VERSION}.tgz"
    data = tgz.read_bytes() if tgz.is_file() else b""
    if not _intact(data):
        with urllib.request.urlopen(TARBALL, timeout=60) as response:
            data = response.read()
        if not _intact(data):
            raise RuntimeError(f"{TARBALL} does not match the pinned integrity {INTEGRITY}")
        cache.mkdir(parents=True, exist_ok=True)
        tgz.write_bytes(data)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        member = tar.extractfile(SCRIPT)
        if member is None:
            raise RuntimeError(f"{SCRIPT} is not in {TARBALL}")
        return member.read().decode("utf-8")


# Every violation, with the elements it was found on; "incomplete" results
# (what axe cannot decide alone, e.g. text over an image) are not failures.
_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary || ''})),
  }));
}"""


def violations(page: Any, source: str) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now (axe's default rules:
    WCAG 2.x A and AA, and its best practices). The page's context must be
    made with bypass_csp=True: the service's CSP refuses inline scripts."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=source)
    return page.evaluate(_RUN)


def report(found: list[dict[str, Any]]) -> str:
    """One line per rule and element, for an assertion's message."""
    lines = []
    for v in found:
        for n in v["nodes"]:
            lines.append(f"{v['id']} ({v['impact']}): {n['target']} — {v['help']}")
    return "\n".join(lines)
