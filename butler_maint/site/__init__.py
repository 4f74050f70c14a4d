"""The static HTML evidence site: ``butler-maint report render``.

``render_site(store_root, out)`` writes a site that works from ``file://`` with no
network: a filterable runs index, one page per run and per host, and a KPI page.
"""

from __future__ import annotations

from butler_maint.site.render import RenderOutcome, render_site

__all__ = ["RenderOutcome", "render_site"]
