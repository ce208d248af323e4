"""The report page: a Jinja2 template with autoescaping, so every label from the results (task,
optimizer and suite names, error messages) reaches the page as text, never as markup."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

TEMPLATE = Path(__file__).with_name("template.html")


@dataclass(frozen=True)
class Table:
    """A table of preformatted cells: ``rows`` [rows × len(header)] strings."""

    header: list[str]
    rows: list[list[Any]]


def render(context: dict[str, Any]) -> str:
    """The page's HTML for ``context`` (the sections :func:`bench.report.build.build_report` makes)."""
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True)
    return environment.from_string(TEMPLATE.read_text(encoding="utf-8")).render(**context)
