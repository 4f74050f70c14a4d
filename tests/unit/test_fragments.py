"""Fragments: valid POSIX sh, every spec value quoted, and in agreement with their judge
when run for real on this (Debian) machine."""

from __future__ import annotations

import functools
import grp
import os
import pwd
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from butler_maint.checks.base import Raw, Verdict
from butler_maint.checks.script import build_script, new_token, parse_output
from butler_maint.checks.types import REGISTRY
from butler_maint.checks.types.system import sysctl_path
from butler_maint.model.checks import Check

ME = pwd.getpwuid(os.getuid()).pw_name
SHELLS = [s for s in ("sh", "dash", "bash", "busybox") if shutil.which(s)]

# Spec variants that between them reach every branch of every fragment builder.
VARIANTS: dict[str, list[dict[str, Any]]] = {
    "disk": [{"path": "/", "max_used_pct": 85}],
    "inodes": [{"path": "/var", "max_used_pct": 85.5}],
    "memory": [{"max_used_pct": 90, "min_available_mb": 256}],
    "load": [{"max_per_cpu": 2, "period": 15}],
    "service": [{"name": "ssh.service", "enabled": None}],
    "process": [{"name": "sshd"}, {"name": "sshd", "user": "root", "max_count": 3}],
    "package": [{"name": "openssl", "min_version": "3.0"}],
    "file": [
        {"path": "/etc/passwd"},
        {"path": "/etc/passwd", "mode": "0644", "owner": "root", "contains": "^root:"},
    ],
    "directory": [{"path": "/etc"}, {"path": "/", "mount_point": True}],
    "mount": [{"path": "/proc", "fstype": "proc", "options": ["rw"]}],
    "port": [{"port": 22}, {"port": 53, "proto": "udp", "address": "::1"}],
    "certificate": [
        {"path": "/etc/ssl/cert.pem"},
        {"host": "example.org", "port": 8443},
        {"host": "::1", "servername": "example.org"},
    ],
    "time": [{}],
    "sysctl": [{"key": "vm.swappiness", "max": 60}, {"key": "../../etc/shadow", "value": "x"}],
    "http": [
        {"url": "http://127.0.0.1/"},
        {"url": "https://x/", "contains": "ok", "verify_tls": False},
    ],
    "reboot_required": [{}],
    "command": [{"run": "echo 'it''s' \"$HOME\" | wc -c", "expect": {"gt": 1}}],
    "user": [
        {"name": "root"},
        {"name": "root", "uid": 0, "gid": 0, "groups": ["root"], "home": "/root", "shell": "/x"},
    ],
    "group": [{"name": "root", "gid": 0, "members": ["daemon"]}],
}


def _group(gid: int) -> str:
    return grp.getgrgid(gid).gr_name


def _spec(kind: str, data: dict[str, Any]) -> Any:
    return Check.model_validate({"id": "t", kind: data}).spec


def _run(fragment: str, cwd: Path, shell: str = "sh") -> Raw:
    """Run a fragment inside the per-host script, as a host does, and parse it back."""
    token = new_token()
    path = shutil.which(shell) or shell
    argv = [path, "sh", "-s"] if shell == "busybox" else [path, "-s"]
    done = subprocess.run(
        argv,
        input=build_script([("t", fragment)], token).encode(),
        cwd=cwd,
        capture_output=True,
        timeout=30,
        check=False,
    )
    frames, complete = parse_output(done.stdout, token)
    assert complete and len(frames) == 1, done
    return frames[0].raw


def _run_bare(fragment: str, cwd: Path, env: dict[str, str]) -> Raw:
    """Run a fragment alone in a subshell with ``env``: the script's prelude would put
    the standard directories back on a PATH that hides tools."""
    done = subprocess.run(
        ["/bin/sh", "-c", f"(\n{fragment}\n)"],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
    )
    return Raw(done.returncode, done.stdout, done.stderr)


def test_variants_cover_the_registry() -> None:
    assert set(VARIANTS) == set(REGISTRY)


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("kind", sorted(VARIANTS))
def test_fragment_is_valid_sh(kind: str, shell: str) -> None:
    for data in VARIANTS[kind]:
        fragment = REGISTRY[kind].fragment(_spec(kind, data))
        script = build_script([(kind, fragment)], new_token())  # as it sits in the script
        argv = [shell, "sh", "-n"] if shell == "busybox" else [shell, "-n"]
        done = subprocess.run(argv, input=script, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{kind} {data}: {done.stderr}\n{script}"


def _hostile(sentinel: Path) -> list[str]:
    cmd = f"touch {sentinel}"
    return [
        f"'; {cmd}; '",
        f"$({cmd})",
        f"`{cmd}`",
        f"x\n{cmd}\n",
        f'"; {cmd}; "',
        f"-x; {cmd} #",
    ]


def _hostile_specs(value: str) -> list[tuple[str, dict[str, Any]]]:
    """Every string field of every type that reaches a fragment, set to ``value``."""
    return [
        ("disk", {"path": value, "max_used_pct": 1}),
        ("inodes", {"path": value, "max_used_pct": 1}),
        ("service", {"name": value}),
        ("process", {"name": value, "user": value}),
        ("package", {"name": value, "min_version": value}),
        ("file", {"path": value, "owner": value, "group": value, "contains": value}),
        ("file", {"path": "/etc/passwd", "contains": value}),
        ("directory", {"path": value, "owner": value, "group": value, "mount_point": True}),
        ("mount", {"path": value, "fstype": value, "options": [value]}),
        ("port", {"port": 1, "address": value}),
        ("certificate", {"path": value}),
        ("certificate", {"host": value, "servername": value, "port": 1}),
        ("sysctl", {"key": value, "value": value}),
        ("sysctl", {"key": f"kernel.{value}", "value": value}),
        ("http", {"url": value, "contains": value, "timeout_s": 2}),
        ("http", {"url": "http://127.0.0.1:1/", "contains": value, "timeout_s": 2}),
        ("user", {"name": value, "groups": [value], "home": value, "shell": value}),
        ("group", {"name": value, "members": [value]}),
    ]


@pytest.mark.parametrize("index", range(6))
def test_hostile_values_stay_quoted(index: int, tmp_path: Path) -> None:
    sentinel = tmp_path / "SENTINEL"
    value = _hostile(sentinel)[index]
    for kind, data in _hostile_specs(value):
        spec = _spec(kind, data)
        raw = _run(REGISTRY[kind].fragment(spec), tmp_path)
        assert not sentinel.exists(), f"{kind} {data!r} ran the injected command"
        assert isinstance(REGISTRY[kind].judge(spec, raw), Verdict)


def test_sysctl_paths() -> None:
    assert sysctl_path("net.ipv4.ip_forward") == "/proc/sys/net/ipv4/ip_forward"
    assert sysctl_path("net.ipv4.conf.eth0/100.rp_filter") == (
        "/proc/sys/net/ipv4/conf/eth0.100/rp_filter"
    )
    assert sysctl_path("net/ipv4/conf/eth0.100/rp_filter") == (
        "/proc/sys/net/ipv4/conf/eth0.100/rp_filter"
    )
    assert sysctl_path("../../etc/shadow") is None
    assert sysctl_path("kernel..x") is None


# ---------------------------------------------------------------- real runs on this host


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@pytest.fixture
def web(tmp_path: Path) -> Iterator[int]:
    """A local HTTP server on 127.0.0.1 serving ``health`` -> ``status: ok``; its port."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "health").write_text("status: ok\n")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def sleeper() -> Iterator[None]:
    """A ``sleep`` process for the process check to count."""
    proc = subprocess.Popen(["sleep", "60"])
    try:
        yield
    finally:
        proc.kill()
        proc.wait()


def _pem(tmp_path: Path) -> Path | None:
    if shutil.which("openssl") is None:
        return None
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "90",
            "-subj",
            "/CN=test",
        ],
        capture_output=True,
        check=True,
        timeout=30,
    )
    return cert


def _stale(tmp_path: Path) -> Path:
    """A file last changed two days ago."""
    path = tmp_path / "stale"
    path.write_text("old\n")
    two_days_ago = time.time() - 2 * 86400
    os.utime(path, (two_days_ago, two_days_ago))
    return path


def _local_cases(tmp_path: Path, port: int) -> list[tuple[str, dict[str, Any], set[str]]]:
    """(type, spec, acceptable statuses) for this Debian machine."""
    any_status = {"pass", "fail", "error", "skipped"}
    cases: list[tuple[str, dict[str, Any], set[str]]] = [
        ("disk", {"path": "/", "max_used_pct": 100}, {"pass"}),
        ("inodes", {"path": "/", "max_used_pct": 100}, {"pass", "skipped"}),
        ("memory", {"max_used_pct": 100}, {"pass"}),
        ("load", {"max_per_cpu": 1000, "period": 1}, {"pass"}),
        ("service", {"name": "nosuch-butler-service"}, {"fail", "error"}),
        ("service", {"name": "ssh"}, any_status),
        ("process", {"name": "sleep"}, {"pass"}),
        ("process", {"name": "sleep", "user": ME}, {"pass"}),
        ("process", {"name": "sleep", "user": str(os.getuid())}, {"pass"}),
        ("process", {"name": "sleep", "user": "nosuch-butler-user"}, {"error"}),
        ("process", {"name": "nosuch-butler-proc", "min_count": 0, "max_count": 0}, {"pass"}),
        ("package", {"name": "dash", "min_version": "0.5"}, {"pass"}),
        ("package", {"name": "nosuch-butler-pkg", "installed": False}, {"pass"}),
        (
            "file",
            {
                "path": "/etc/passwd",
                "mode": "0644",
                "owner": "root",
                "contains": "^root:",
                "max_age_hours": 1e9,
                "min_size_bytes": 1,
            },
            {"pass"},
        ),
        ("file", {"path": str(tmp_path / "absent")}, {"fail"}),
        ("file", {"path": str(_stale(tmp_path)), "max_age_hours": 24}, {"fail"}),
        ("file", {"path": str(_stale(tmp_path)), "max_age_hours": 72}, {"pass"}),
        ("directory", {"path": "/", "mount_point": True}, {"pass"}),
        ("directory", {"path": str(tmp_path), "mount_point": False}, any_status),
        ("mount", {"path": "/proc", "fstype": "proc"}, {"pass"}),
        ("port", {"port": port, "address": "127.0.0.1"}, {"pass"}),
        ("port", {"port": 1, "listening": False}, {"pass"}),
        ("time", {}, any_status),
        ("sysctl", {"key": "kernel.ostype", "value": "Linux"}, {"pass"}),
        ("sysctl", {"key": "kernel.nosuch_butler_key", "value": "1"}, {"fail"}),
        (
            "http",
            {"url": f"http://127.0.0.1:{port}/health", "contains": "^status: ok$", "timeout_s": 5},
            {"pass"},
        ),
        ("http", {"url": f"http://127.0.0.1:{port}/nope", "timeout_s": 5}, {"fail"}),
        ("http", {"url": "http://127.0.0.1:1/", "timeout_s": 2}, {"fail"}),
        ("reboot_required", {}, {"pass", "fail"}),
        ("command", {"run": "echo 42", "expect": {"eq": 42, "stdout": "^42$"}}, {"pass"}),
        ("command", {"run": "exit 3"}, {"fail"}),
        ("user", {"name": ME, "uid": os.getuid(), "groups": [_group(os.getgid())]}, {"pass"}),
        (
            "user",
            {"name": "daemon", "uid": 1, "gid": 1, "home": "/usr/sbin", "groups": ["daemon"]},
            {"pass"},
        ),
        ("user", {"name": "root", "groups": ["nosuch-butler-group"]}, {"fail"}),
        ("user", {"name": "nosuch-butler-user", "exists": False}, {"pass"}),
        ("user", {"name": "nosuch-butler-user"}, {"fail"}),
        ("group", {"name": _group(os.getgid()), "gid": os.getgid()}, {"pass"}),
        ("group", {"name": "nosuch-butler-group", "exists": False}, {"pass"}),
        ("group", {"name": "root", "gid": 4242}, {"fail"}),
    ]
    cert = _pem(tmp_path)
    if cert is not None:
        cases.append(("certificate", {"path": str(cert), "min_days_left": 30}, {"pass"}))
        cases.append(("certificate", {"path": str(cert), "min_days_left": 365}, {"fail"}))
        cases.append(("certificate", {"path": str(tmp_path / "none.pem")}, {"error"}))
    return cases


@pytest.mark.usefixtures("sleeper")
def test_fragments_and_judges_agree_on_this_host(tmp_path: Path, web: int) -> None:
    cases = _local_cases(tmp_path, web)
    assert {kind for kind, *_ in cases} | {"certificate"} == set(REGISTRY)
    problems = []
    for kind, data, allowed in cases:
        spec = _spec(kind, data)
        raw = _run(REGISTRY[kind].fragment(spec), tmp_path)
        got = REGISTRY[kind].judge(spec, raw)
        if got.status not in allowed:
            problems.append(f"{kind} {data}: {got} from {raw}")
    assert not problems, "\n".join(problems)


TOOLS = (  # noqa: SIM905 - a word list reads better than 33 one-word lines
    "sh cat grep awk mktemp rm date stat df head tail tr wc ls readlink mountpoint nproc getconf"
    " ss netstat pgrep dpkg-query rpm openssl timeout curl wget chronyc timedatectl ntpq"
    " systemctl service needs-restarting getent id"
).split()


def _path_without(bin_dir: Path, hidden: set[str]) -> dict[str, str]:
    """An environment whose PATH has the tools fragments use, except ``hidden``."""
    bin_dir.mkdir(exist_ok=True)
    for tool in set(TOOLS) - hidden:
        found = shutil.which(tool)
        if found is not None:
            (bin_dir / tool).symlink_to(found)
    return {"PATH": str(bin_dir), "LC_ALL": "C"}


Fallback = tuple[str, dict[str, Any], set[str], str, str]


def _fallback_cases(port: int) -> list[Fallback]:
    """(type, spec, tools to hide, fallback tool used, status): each fragment's other branch.

    A hidden ``/proc/...`` path is one the fragment reads itself: it is renamed in the
    fragment's text to a path that does not exist, as on a host without it."""
    url = f"http://127.0.0.1:{port}/health"
    return [
        (
            "http",
            {"url": url, "contains": "^status: ok$", "timeout_s": 5},
            {"curl"},
            "wget",
            "pass",
        ),
        ("http", {"url": f"http://127.0.0.1:{port}/x", "timeout_s": 5}, {"curl"}, "wget", "fail"),
        ("http", {"url": "http://127.0.0.1:1/", "timeout_s": 2}, {"curl"}, "wget", "fail"),
        ("http", {"url": url}, {"curl", "wget"}, "sh", "error"),
        ("port", {"port": port, "address": "127.0.0.1"}, {"ss"}, "netstat", "pass"),
        ("port", {"port": 1}, {"ss", "netstat"}, "sh", "error"),
        ("directory", {"path": "/", "mount_point": True}, {"mountpoint"}, "stat", "pass"),
        ("directory", {"path": "/etc", "mount_point": True}, {"mountpoint"}, "stat", "fail"),
        ("load", {"max_per_cpu": 1000}, {"/proc/self/status"}, "nproc", "pass"),
        ("load", {"max_per_cpu": 1000}, {"/proc/self/status", "nproc"}, "getconf", "pass"),
        ("load", {"max_per_cpu": 1000}, {"/proc/self/status", "nproc", "getconf"}, "sh", "error"),
        ("time", {}, {"chronyc", "timedatectl", "ntpq"}, "sh", "error"),
        ("package", {"name": "dash"}, {"dpkg-query", "rpm"}, "sh", "error"),
        ("service", {"name": "ssh"}, {"systemctl", "service"}, "sh", "error"),
        ("process", {"name": "sleep"}, {"/proc/self/comm"}, "pgrep", "pass"),
        ("process", {"name": "sleep", "user": ME}, {"/proc/self/comm"}, "pgrep", "pass"),
        ("process", {"name": "sleep"}, {"/proc/self/comm", "pgrep"}, "sh", "error"),
        ("disk", {"path": "/", "max_used_pct": 100}, {"df"}, "sh", "error"),
        ("file", {"path": "/etc/passwd"}, {"stat"}, "sh", "error"),
        ("certificate", {"host": "127.0.0.1", "port": port}, {"openssl"}, "sh", "error"),
        ("user", {"name": "daemon", "uid": 1, "groups": ["daemon"]}, {"getent"}, "id", "pass"),
        ("user", {"name": "daemon"}, {"getent"}, "sh", "pass"),
        ("user", {"name": "daemon", "uid": 2}, {"getent"}, "sh", "fail"),
        ("user", {"name": "nosuch-butler-user"}, {"getent"}, "sh", "fail"),
        ("user", {"name": "root"}, {"getent", "/etc/passwd"}, "sh", "error"),
        ("user", {"name": "root", "groups": ["root"]}, {"id"}, "getent", "error"),
        ("group", {"name": "daemon", "gid": 1}, {"getent"}, "sh", "pass"),
        ("group", {"name": "root"}, {"getent", "/etc/group"}, "sh", "error"),
    ]


@pytest.mark.usefixtures("sleeper")
@pytest.mark.parametrize("index", range(len(_fallback_cases(0))))
def test_fallback_branches_on_this_host(index: int, tmp_path: Path, web: int) -> None:
    kind, data, hidden, fallback, status = _fallback_cases(web)[index]
    if shutil.which(fallback) is None:
        pytest.skip(f"{fallback} is not installed here")
    spec = _spec(kind, data)
    env = _path_without(tmp_path / "bin", {tool for tool in hidden if "/" not in tool})
    fragment = REGISTRY[kind].fragment(spec)
    for path in (tool for tool in hidden if "/" in tool):
        assert path in fragment, f"{kind} does not read {path}"
        fragment = fragment.replace(path, str(tmp_path / "absent" / Path(path).name))
    raw = _run_bare(fragment, tmp_path, env)
    got = REGISTRY[kind].judge(spec, raw)
    assert got.status == status, f"{got} from {raw}"
    if fallback == "sh" and status == "error":  # "sh": the shell alone, no tool left
        assert raw.rc == 127, raw
        assert got.message.startswith("missing on the host: "), got
