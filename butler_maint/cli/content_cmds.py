"""Commands about content: validate, schema, init."""

from __future__ import annotations
