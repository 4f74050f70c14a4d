"""Ansible's own filters and tests (ansible-core's plugin loader) for content templates.

Checklist values are rendered by ``templating`` in Jinja2's sandbox; this module adds
ansible-core's builtin filter and test plugins to it (``bool``, ``ternary``,
``regex_search``, ``to_json``, ``combine``, ``dict2items``, ``version``...), the same
functions a playbook calls, not copies. Jinja2's own filters keep their names
(``default``, ``map``, ``select``...: Ansible's are the same filters).

Left out: what would look at the controller instead of the host or read its secrets
(``expanduser``, ``expandvars``, ``realpath``, ``fileglob``, ``vault``/``unvault``, the
file tests ``exists``, ``is_file``, ``mount``...), and what can build results without
bound from short arguments (``password_hash`` rounds, ``product``, ``permutations``,
``combinations``, ``comment``). Lookups (``lookup()``, ``query()``) run on the
controller and are not offered; ``env('NAME')`` reads an environment variable.

A deprecation or warning Ansible would print while a filter runs (``'maybe' | bool``
coerced to False) is an error of the template instead: a check never silently uses a
value Ansible itself calls invalid.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache, wraps
from typing import Any

LEFT_OUT_FILTERS = frozenset(
    {"expanduser", "expandvars", "realpath", "fileglob", "vault", "unvault"}
    | {"password_hash", "product", "permutations", "combinations", "comment"}
)
LEFT_OUT_TESTS = frozenset(
    {"directory", "exists", "file", "link", "link_exists", "mount", "same_file"}
    | {"is_dir", "is_file", "is_link", "is_mount", "is_same_file", "vaulted_file"}
)
MAX_INDENT = 64
"""Largest ``indent`` of ``to_json``/``to_yaml`` and friends (output grows with it)."""


class PluginProblem(ValueError):
    """A filter or test refused its arguments, or Ansible warned while it ran."""


@lru_cache(maxsize=1)
def ansible_plugins(
    max_length: int,
) -> tuple[dict[str, Callable[..., Any]], dict[str, Callable[..., Any]]]:
    """ansible-core's builtin filters and tests by short name, each guarded (see module);
    ``max_length`` bounds the strings and data they may build."""
    from ansible.plugins.loader import filter_loader, init_plugin_loader, test_loader
    from ansible.utils.collection_loader import AnsibleCollectionConfig

    if AnsibleCollectionConfig.collection_finder is None:
        init_plugin_loader()
    filters = _by_name(filter_loader.all(), LEFT_OUT_FILTERS)
    tests = _by_name(test_loader.all(), LEFT_OUT_TESTS)
    for name in ("to_json", "to_nice_json", "to_yaml", "to_nice_yaml"):
        filters[name] = _checked(filters[name], _indent_bound)
    filters["regex_replace"] = _checked(
        filters["regex_replace"], lambda *a, **k: _replace_bound(max_length, *a, **k)
    )
    for name in ("from_yaml", "from_yaml_all", "from_json"):
        filters[name] = _sized(filters[name], max_length)
    return filters, tests


def _by_name(plugins: Any, left_out: frozenset[str]) -> dict[str, Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {}
    for plugin in plugins:
        name = str(plugin.ansible_name).rsplit(".", 1)[-1]
        if name not in left_out and plugin.ansible_name.startswith("ansible.builtin."):
            found[name] = _quiet(plugin.j2_function)
    return found


def _quiet(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with Ansible's warnings and deprecations turned into a PluginProblem."""
    from ansible._internal._display_utils import DeferredWarningContext

    @wraps(function)
    def quiet(*args: Any, **kwargs: Any) -> Any:
        with DeferredWarningContext(variables={}) as context:
            result = function(*args, **kwargs)
        said = [*context.get_deprecation_warnings(), *context.get_warnings()]
        if said:
            message = str(said[0].event.msg).strip().rstrip(".")
            raise PluginProblem(f"{message} (Ansible warns about this value)")
        return result

    return quiet


def _checked(function: Callable[..., Any], check: Callable[..., None]) -> Callable[..., Any]:
    @wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        check(*args, **kwargs)
        return function(*args, **kwargs)

    return checked


def _indent_bound(_value: Any, *args: Any, **kwargs: Any) -> None:
    indent = kwargs.get("indent", args[0] if args else None)
    if isinstance(indent, int) and indent > MAX_INDENT:
        raise PluginProblem(f"an indent of {indent}; expected at most {MAX_INDENT}")


def _replace_bound(  # noqa: PLR0917 - the filter's own signature
    max_length: int,
    value: Any = "",
    pattern: str = "",
    replacement: str = "",
    ignorecase: bool = False,
    multiline: bool = False,
    count: int = 0,
    mandatory_count: int = 0,
) -> None:
    """``regex_replace`` refused when its result would pass the length bound."""
    text, new = str(value), str(replacement)
    if len(text) + (len(text) + 1) * len(new) <= max_length:
        return
    flags = (re.IGNORECASE if ignorecase else 0) | (re.MULTILINE if multiline else 0)
    matches = sum(1 for _ in re.finditer(str(pattern), text, flags))
    matches = min(matches, count) if count else matches
    if len(text) + matches * len(new) > max_length:
        raise PluginProblem(
            f"replacing {matches} matches with {len(new)} characters; expected a result "
            f"of at most {max_length:,} characters"
        )


def _sized(function: Callable[..., Any], max_length: int) -> Callable[..., Any]:
    """A parser whose result (YAML aliases can repeat a node) is refused past the bound."""

    @wraps(function)
    def sized(*args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        _count_values(result, max_length)
        return result

    return sized


def _count_values(value: Any, max_length: int) -> None:
    """Walk ``value`` counting every value (an alias counts each time it is reached),
    refusing at once past ``max_length``: a billion laughs never expands."""
    seen, pending = 0, [value]
    while pending:
        item = pending.pop()
        seen += 1
        if seen > max_length:
            raise PluginProblem(f"parsed data with more than {max_length:,} values")
        if isinstance(item, Mapping):
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
