"""The check-type catalog: one spec model per check type, and the ``Check`` wrapper.

A check is a mapping with the common fields (``id``, ``title``, ``severity``, ``when``,
``controls``, ``secret``) and exactly one type key whose value is that type's spec::

    - id: disk-root
      disk: {path: /, max_used_pct: "{{ disk_max_pct }}"}

Numbers may be Jinja2 templates rendered per host (``Number``). Execution lives in
``butler_maint.checks``; these models only say what a check asks for.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from butler_maint.model.base import Frozen, LocalPath, Number, Text, Vars

CHECK_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_MODE = re.compile(r"^0?[0-7]{3,4}$")

Severity = Literal["info", "low", "medium", "high", "critical"]
_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")
MAX_RETRIES = 100
MAX_DELAY_S = 3600.0


def parse_delay(value: object) -> object:
    """``10``, ``10s``, ``2m`` or ``1h`` as seconds (at most an hour); else as given."""
    if isinstance(value, str):
        match = _DELAY.match(value)
        if not match:
            raise ValueError(f"expected a delay such as 10s, 2m or 1h, got {value!r}")
        scale = {"s": 1, "m": 60, "h": 3600}[match.group(2) or "s"]
        return float(match.group(1)) * scale
    return value


Delay = Annotated[
    float,
    BeforeValidator(parse_delay),
    Field(ge=0, le=MAX_DELAY_S, description="Seconds between attempts: 10, 10s, 2m, 1h."),
]
Retries = Annotated[
    int,
    Field(ge=0, le=MAX_RETRIES, description="Run again this many times at most while it fails."),
]


class DiskSpec(Frozen):
    """Used space of the filesystem holding ``path``."""

    path: Text = "/"
    max_used_pct: Number = Field(description="Fail above this percentage used.")


class InodesSpec(Frozen):
    """Used inodes of the filesystem holding ``path``."""

    path: Text = "/"
    max_used_pct: Number


class MemorySpec(Frozen):
    """Memory pressure from /proc/meminfo (MemAvailable)."""

    max_used_pct: Number | None = None
    min_available_mb: Number | None = None

    @model_validator(mode="after")
    def _one_limit(self) -> MemorySpec:
        if self.max_used_pct is None and self.min_available_mb is None:
            raise ValueError("give max_used_pct, min_available_mb or both")
        return self


class LoadSpec(Frozen):
    """Load average divided by the number of CPUs."""

    max_per_cpu: Number = 1.0
    period: int = Field(5, description="Minutes: 1, 5 or 15.")

    @field_validator("period")
    @classmethod
    def _period(cls, value: int) -> int:
        if value not in (1, 5, 15):
            raise ValueError(f"expected 1, 5 or 15 (minutes), got {value}")
        return value


class ServiceSpec(Frozen):
    """A systemd service (SysV/OpenRC where systemd is absent)."""

    name: Text
    running: bool | None = Field(True, description="null: not judged.")
    enabled: bool | None = Field(True, description="null: not judged.")


class ProcessSpec(Frozen):
    """Processes whose name matches ``name`` exactly (pgrep -x)."""

    name: Text
    user: Text | None = None
    min_count: int = Field(1, ge=0)
    max_count: int | None = Field(None, ge=0)


class PackageSpec(Frozen):
    """An installed package (dpkg on Debian/Ubuntu, rpm on RHEL family)."""

    name: Text
    installed: bool = True
    min_version: Text | None = None


def _check_mode(value: str | None) -> str | None:
    if value is not None and not _MODE.match(value):
        raise ValueError(f"expected an octal mode such as '0640', got {value!r}")
    return value


def _check_pattern(value: str | None) -> str | None:
    """A ``contains`` pattern, matched on the host by ``grep -E``."""
    if value == "":
        raise ValueError("an empty pattern matches any content; expected an extended regex")
    return value


class FileSpec(Frozen):
    """A regular file: existence, mode, owner, age, size, content."""

    path: Text
    exists: bool = True
    mode: Text | None = Field(None, description="Octal, e.g. '0640' (quote it or not).")
    owner: Text | None = None
    group: Text | None = None
    max_age_hours: Number | None = None
    min_size_bytes: Number | None = None
    contains: Text | None = Field(
        None, description="Extended regex the content must match (no NUL character)."
    )

    _mode = field_validator("mode")(_check_mode)
    _contains = field_validator("contains")(_check_pattern)


class DirectorySpec(Frozen):
    """A directory, optionally required to be a mount point."""

    path: Text
    exists: bool = True
    mode: Text | None = None
    owner: Text | None = None
    group: Text | None = None
    mount_point: bool | None = None

    _mode = field_validator("mode")(_check_mode)


class MountSpec(Frozen):
    """A mounted filesystem with its type and options."""

    path: Text
    fstype: Text | None = None
    options: list[Text] = Field(default_factory=list, description="e.g. [ro, nosuid]")


class PortSpec(Frozen):
    """A listening socket (ss, netstat as fallback)."""

    port: Number
    proto: Literal["tcp", "udp"] = "tcp"
    address: Text | None = Field(None, description="Require this local address.")
    listening: bool = True


class CertificateSpec(Frozen):
    """TLS certificate expiry, from a PEM file or a live host:port (openssl)."""

    path: Text | None = None
    host: Text | None = None
    port: Number = 443
    servername: Text | None = None
    min_days_left: Number = 30

    @model_validator(mode="after")
    def _one_source(self) -> CertificateSpec:
        if (self.path is None) == (self.host is None):
            raise ValueError("give exactly one of path or host")
        return self


class TimeSpec(Frozen):
    """Clock offset reported by chrony, ntpd or systemd-timesyncd."""

    max_skew_s: Number = 0.5
    require_sync: bool = True


class SysctlSpec(Frozen):
    """A kernel parameter: an exact value or numeric bounds."""

    key: Text
    value: Text | None = None
    min: Number | None = None
    max: Number | None = None

    @model_validator(mode="after")
    def _one_expectation(self) -> SysctlSpec:
        if self.value is None and self.min is None and self.max is None:
            raise ValueError("give value, min or max")
        return self


class HttpSpec(Frozen):
    """An HTTP(S) endpoint fetched from the host itself (curl or wget)."""

    url: Text
    status: int = Field(200, ge=100, le=599)
    contains: Text | None = Field(
        None, description="Extended regex the body must match (no NUL character)."
    )
    timeout_s: Number = 10
    verify_tls: bool = True

    _contains = field_validator("contains")(_check_pattern)


def _account_name(value: str) -> str:
    """A user or group name as getent looks it up: digits alone would be an id."""
    if value.isdigit():
        raise ValueError(
            f"{value!r} is a number, which getent looks up as an id; expected a name "
            "(check a number with uid or gid)"
        )
    return value


def _nothing_else_when_absent(spec: UserSpec | GroupSpec, fields: tuple[str, ...]) -> None:
    given = [name for name in fields if getattr(spec, name) is not None]
    if not spec.exists and given:
        raise ValueError(f"exists: false takes no {', '.join(given)}")


_USER_FIELDS = ("uid", "gid", "groups", "home", "shell")


class UserSpec(Frozen):
    """A user account as the host's name service has it (``getent passwd``, ``id``)."""

    name: Text
    exists: bool = True
    uid: Number | None = None
    gid: Number | None = Field(None, description="Primary group id.")
    groups: list[Text] | None = Field(
        None, description="Groups the user belongs to (primary or not); others may exist."
    )
    home: Text | None = None
    shell: Text | None = None

    _name = field_validator("name")(_account_name)

    @model_validator(mode="after")
    def _absent_alone(self) -> UserSpec:
        _nothing_else_when_absent(self, _USER_FIELDS)
        return self


class GroupSpec(Frozen):
    """A group as the host's name service has it (``getent group``)."""

    name: Text
    exists: bool = True
    gid: Number | None = None
    members: list[Text] | None = Field(
        None,
        description="Users listed as members of the group (its entry lists secondary "
        "members only, not users whose primary group it is); others may exist.",
    )

    _name = field_validator("name")(_account_name)

    @model_validator(mode="after")
    def _absent_alone(self) -> GroupSpec:
        _nothing_else_when_absent(self, ("gid", "members"))
        return self


class RebootRequiredSpec(Frozen):
    """Whether the host waits for a reboot after updates."""

    expected: bool = False


class CommandExpect(Frozen):
    """What a command's result must look like."""

    rc: int | None = 0
    stdout: Text | None = Field(None, description="Extended regex stdout must match.")
    stdout_not: Text | None = Field(None, description="Extended regex stdout must not match.")
    lt: Number | None = None
    le: Number | None = None
    gt: Number | None = None
    ge: Number | None = None
    eq: Number | None = None


class CommandSpec(Frozen):
    """Any command, run by ``sh``, with expectations on rc and stdout."""

    run: Text
    expect: CommandExpect = Field(default_factory=CommandExpect)
    become: bool = False


CHECK_TYPES: dict[str, type[Frozen] | type[str]] = {
    "disk": DiskSpec,
    "inodes": InodesSpec,
    "memory": MemorySpec,
    "load": LoadSpec,
    "service": ServiceSpec,
    "process": ProcessSpec,
    "package": PackageSpec,
    "file": FileSpec,
    "directory": DirectorySpec,
    "mount": MountSpec,
    "port": PortSpec,
    "certificate": CertificateSpec,
    "time": TimeSpec,
    "sysctl": SysctlSpec,
    "http": HttpSpec,
    "reboot_required": RebootRequiredSpec,
    "command": CommandSpec,
    "user": UserSpec,
    "group": GroupSpec,
    "testinfra": str,
    "manual": str,
}

Spec = Frozen | str


def _playbook_only(value: object) -> object:
    return {"playbook": value} if isinstance(value, str) else value


class Remediate(Frozen):
    """The playbook that fixes a failing check (``remediate: playbooks/fix.yml``, or with
    vars: ``{playbook: ..., vars: {...}}``), run on exactly the hosts that failed it."""

    playbook: LocalPath = Field(description="Path from the repo root, e.g. playbooks/fix.yml.")
    vars: Vars


class Check(Frozen):
    """One check of a checklist: common fields plus exactly one type key."""

    id: Annotated[str, Field(pattern=CHECK_ID)]
    title: Text | None = None
    severity: Severity = "medium"
    when: Text | None = Field(None, description="Jinja2 expression; false skips the check.")
    controls: list[Text] = Field(default_factory=list, description="e.g. [CIS-5.2.1]")
    secret: bool = Field(False, description="Redact this check's observed values.")
    retries: Retries = 0
    delay: Delay = 5.0
    remediate: Annotated[Remediate | None, BeforeValidator(_playbook_only)] = None

    disk: DiskSpec | None = None
    inodes: InodesSpec | None = None
    memory: MemorySpec | None = None
    load: LoadSpec | None = None
    service: ServiceSpec | None = None
    process: ProcessSpec | None = None
    package: PackageSpec | None = None
    file: FileSpec | None = None
    directory: DirectorySpec | None = None
    mount: MountSpec | None = None
    port: PortSpec | None = None
    certificate: CertificateSpec | None = None
    time: TimeSpec | None = None
    sysctl: SysctlSpec | None = None
    http: HttpSpec | None = None
    reboot_required: RebootRequiredSpec | None = None
    command: CommandSpec | None = None
    user: UserSpec | None = None
    group: GroupSpec | None = None
    testinfra: LocalPath | None = Field(None, description="Path of a testinfra module.")
    manual: Text | None = Field(None, description="Statement the operator attests.")

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: object) -> object:
        return str(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _exactly_one_type(self) -> Check:
        given = [name for name in CHECK_TYPES if getattr(self, name) is not None]
        if len(given) != 1:
            names = ", ".join(CHECK_TYPES)
            found = ", ".join(given) or "none"
            raise ValueError(f"a check needs exactly one type key ({names}); found {found}")
        return self

    @property
    def kind(self) -> str:
        """The check type's name, e.g. ``disk``."""
        return next(name for name in CHECK_TYPES if getattr(self, name) is not None)

    @property
    def spec(self) -> Spec:
        """The spec of this check's type."""
        value: Spec = getattr(self, self.kind)
        return value
