"""Reading a playbook's plays, and applying ``serial``/``max_fail_percentage`` to a copy.

Ansible offers no command-line option for a play's batch size, and ``import_playbook``
cannot set it. So when a run asks for ``serial`` or ``max_fail_percentage`` (a
maintenance window does), the playbook's plays are loaded, the keywords set on every
play, and the result written as a hidden copy *next to the original*: ``playbook_dir``
stays the same, so roles, vars files, templates and playbook-side group_vars resolve as
before. The copy is removed when the run ends. Plays pulled in by ``import_playbook``
keep their own settings (reported as a warning).

The YAML is read with PyYAML's safe loader extended to keep application tags
(``!vault``, ``!unsafe``) as they are, so they survive the round trip untouched.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from butler_maint.errors import ContentError, Location

_TEMPLATE = re.compile(r"{{|{%")
_PERCENT = re.compile(r"\A\s*\d+(\.\d+)?\s*%\s*\Z")
COPY_PREFIX = ".butler-play-"


@dataclass(frozen=True)
class Tagged:
    """A YAML node with an application tag (``!vault``, ``!unsafe``...), kept verbatim."""

    tag: str
    value: Any


class _Loader(yaml.SafeLoader):
    """Safe loader that keeps unknown ``!tags`` instead of refusing them."""


def _construct_tagged(loader: _Loader, suffix: str, node: yaml.Node) -> Tagged:
    tag = "!" + suffix
    if isinstance(node, yaml.ScalarNode):
        return Tagged(tag, loader.construct_scalar(node))
    if isinstance(node, yaml.SequenceNode):
        return Tagged(tag, loader.construct_sequence(node, deep=True))
    assert isinstance(node, yaml.MappingNode)
    return Tagged(tag, loader.construct_mapping(node, deep=True))


_Loader.add_multi_constructor("!", _construct_tagged)


class _Dumper(yaml.SafeDumper):
    """Safe dumper that writes :class:`Tagged` values back with their tag."""


def _represent_tagged(dumper: _Dumper, data: Tagged) -> yaml.Node:
    if isinstance(data.value, dict):
        return dumper.represent_mapping(data.tag, data.value)
    if isinstance(data.value, list):
        return dumper.represent_sequence(data.tag, data.value)
    style = "|" if "\n" in str(data.value) else None
    return dumper.represent_scalar(data.tag, str(data.value), style=style)


_Dumper.add_representer(Tagged, _represent_tagged)


def load_yaml_text(text: str) -> Any:
    """Parse YAML keeping application tags; ValueError on bad YAML."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as ex:
        raise ValueError(str(ex)) from None


def load_plays(path: Path) -> list[Any]:
    """The entries of a playbook (plays and imports); ContentError when it is not one."""
    try:
        document = load_yaml_text(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as ex:
        raise ContentError.at(Location(path), f"cannot read playbook: {ex}") from None
    except ValueError as ex:
        raise ContentError.at(Location(path), f"not valid YAML: {ex}") from None
    if not isinstance(document, list) or not all(isinstance(p, dict) for p in document):
        raise ContentError.at(Location(path), "a playbook is a list of plays")
    return document


def host_patterns(plays: list[Any]) -> list[str]:
    """The host pattern of every play; ``all`` where it cannot be known before the run."""
    patterns = []
    for play in plays:
        hosts = play.get("hosts")
        if isinstance(hosts, list):
            hosts = ",".join(str(h) for h in hosts)
        if not isinstance(hosts, str) or _TEMPLATE.search(hosts) or "import_playbook" in play:
            hosts = "all"
        patterns.append(hosts)
    return list(dict.fromkeys(patterns))


def imports(plays: list[Any]) -> bool:
    """Whether the playbook pulls in other playbooks."""
    return any("import_playbook" in p or "ansible.builtin.import_playbook" in p for p in plays)


def check_serial(value: str | int) -> int | str:
    """A ``serial`` value: a positive count or a percentage such as ``25%``."""
    text = str(value).strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    if _PERCENT.match(text) and 0 < float(text.rstrip("% ")) <= 100:
        return text.replace(" ", "")
    raise ValueError(f"serial must be a positive count or a percentage like 25%, not {value!r}")


def check_max_fail(value: float) -> float | int:
    """A ``max_fail_percentage`` value, 0 to 100."""
    if not 0 <= value <= 100:
        raise ValueError(f"max_fail_percentage must be between 0 and 100, not {value}")
    return int(value) if float(value).is_integer() else value


def batched(
    plays: list[Any], serial: int | str | None, max_fail_percentage: float | None
) -> list[Any]:
    """Copies of the plays with ``serial``/``max_fail_percentage`` set (imports untouched)."""
    settings: dict[str, Any] = {}
    if serial is not None:
        settings["serial"] = serial
    if max_fail_percentage is not None:
        settings["max_fail_percentage"] = max_fail_percentage
    return [play if imports([play]) else {**play, **settings} for play in plays]


def tagged(plays: list[Any], environment: dict[str, str]) -> list[Any]:
    """Copies of the plays with ``environment`` added to theirs (imports untouched)."""
    out = []
    for play in plays:
        if imports([play]) or not isinstance(play, dict):
            out.append(play)
            continue
        own = play.get("environment")
        env: Any = dict(environment) if own is None else [*_listed(own), dict(environment)]
        out.append({**play, "environment": env})
    return out


def _listed(environment: Any) -> list[Any]:
    return list(environment) if isinstance(environment, list) else [environment]


def write_copy(original: Path, plays: list[Any]) -> Path:
    """Write ``plays`` as a hidden playbook next to ``original`` (0600); return its path."""
    path = original.parent / f"{COPY_PREFIX}{secrets.token_hex(4)}-{original.name}"
    text = yaml.dump(plays, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=4096)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"# Temporary copy of {original.name} written by butler-maint play.\n")
        handle.write(text)
    return path
