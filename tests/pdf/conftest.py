"""What the PDF tests share: the bureau's certificates issued, and one
written out by `ecert pdf`."""

from __future__ import annotations

import pytest

A = "6540040710000014"


@pytest.fixture
def issued(keyed, bureau):
    keyed("issue")
    return keyed


def write_pdf(run, tmp_path, number=A):
    """`ecert pdf NUMBER -o tmp_path/NUMBER.pdf`, the file's path."""
    path = tmp_path / f"{number}.pdf"
    run("pdf", number, "-o", str(path))
    return path
