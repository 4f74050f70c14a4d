"""Terminal-safe text: what a host, an inventory or a check says, fit to print.

Host names, check output and messages can carry ESC, BEL, NUL, a carriage return or a
bidi override that would recolour, rewrite or reorder the operator's terminal (or forge
a line of the result table). ``term`` shows each as a visible escape (``\\x1b``, the
notation the exports use too) and is applied to every such text the CLI prints.
"""

from __future__ import annotations

from butler_maint.evidence.export import visible


def term(value: object, *, multiline: bool = False) -> str:
    """``value`` as text safe to print: control characters shown as escapes.

    Tabs stay. Newlines stay only with ``multiline`` (a warning, a diff); otherwise they
    show as ``\\n`` so one record stays one line. ``None`` prints as nothing.
    """
    return visible("" if value is None else str(value), newlines=multiline)
