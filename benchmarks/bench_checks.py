"""Benchmark: the same 10-check checklist on a fleet of loopback sshd hosts, through
butler-maint and its peers, interleaved, start-up included. Not a test.

    .venv/bin/python benchmarks/bench_checks.py [--hosts 20 100] [--rounds 3] [--full]

Methods: the parallel ``ssh host true`` floor; a bare paramiko script (its own Python
process: one connection, one script per host, 20 threads, TCP_NODELAY); ``butler-maint
check``; ``ansible all -m shell`` with the same checks in one command; and with
``--full`` (slow at 100 hosts) an ansible-playbook with one task per check and
pytest-testinfra (paramiko backend, one test per check). Every method runs as its own
process(es), start-up included, once untimed to warm caches, then ``--rounds`` times
interleaved. Prints median wall seconds, ratios, and butler-maint's peak RSS.

The hosts' shells start with an empty HOME (sshd ``SetEnv``) unless ``--dotfiles``: a
slow ``~/.bashrc`` on this machine (~85 ms per SSH command) would otherwise be most of
what every method measures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.harness.sshd_fleet import SshdFleet

BIN = Path(sys.executable).parent
CHECKS = [
    ("disk", "df -P /", {"disk": {"path": "/", "max_used_pct": 95}}),
    ("inodes", "df -Pi /", {"inodes": {"path": "/", "max_used_pct": 95}}),
    ("memory", "cat /proc/meminfo", {"memory": {"max_used_pct": 99}}),
    ("load", "cat /proc/loadavg", {"load": {"max_per_cpu": 50}}),
    ("passwd", "stat -c '%a %U' /etc/passwd", {"file": {"path": "/etc/passwd", "owner": "root"}}),
    ("tmp", "stat -c %a /tmp", {"directory": {"path": "/tmp"}}),
    ("aslr", "cat /proc/sys/kernel/randomize_va_space",
     {"sysctl": {"key": "kernel.randomize_va_space", "min": 0}}),
    ("sshd", "pgrep -x sshd | wc -l", {"process": {"name": "sshd"}}),
    ("uptime", "cut -d. -f1 /proc/uptime",
     {"command": {"run": "cut -d. -f1 /proc/uptime", "expect": {"ge": 1}}}),
    ("openssl", "dpkg-query -W openssl", {"package": {"name": "openssl"}}),
]  # fmt: skip
ONE_COMMAND = "; ".join(cmd for _, cmd, _ in CHECKS)
Method = Callable[[], int | None]


def write_content(work: Path, fleet: SshdFleet) -> Path:
    """The checklist, butler.yaml and inventory every method uses."""
    (work / "checklists").mkdir()
    checks = [{"id": name, **cast(dict[str, object], spec)} for name, _, spec in CHECKS]
    doc = {"checklist": "bench", "hosts": "fleet", "checks": checks}
    (work / "checklists" / "bench.yaml").write_text(yaml.safe_dump(doc))
    settings = {"ssh": {"known_hosts": str(fleet.known_hosts), "system_known_hosts": False}}
    (work / "butler.yaml").write_text(yaml.safe_dump(settings))
    python = {n: {"ansible_python_interpreter": "/usr/bin/python3"} for n in fleet.hosts}
    return fleet.write_inventory(work / "hosts.yml", extra_vars=python)


def ssh_floor(fleet: SshdFleet) -> None:
    """``ssh host true`` to every host at once."""
    argvs = [[*fleet.ssh_argv(n), "true"] for n in fleet.hosts]
    procs = [subprocess.Popen(argv, stdout=subprocess.DEVNULL) for argv in argvs]
    if any(p.wait() != 0 for p in procs):
        raise RuntimeError("ssh true failed")


PARAMIKO_SCRIPT = """\
import json, socket, sys
from concurrent.futures import ThreadPoolExecutor

import paramiko

ports, user, key, known, command = json.loads(sys.argv[1])
trusted = paramiko.HostKeys(known)

def one(port):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client = paramiko.SSHClient()
    name = f"[127.0.0.1]:{port}"
    for keytype, hostkey in trusted.lookup(name).items():
        client.get_host_keys().add(name, keytype, hostkey)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect("127.0.0.1", port, user, sock=sock, key_filename=key,
                   look_for_keys=False, allow_agent=False)
    channel = client.get_transport().open_session()
    channel.exec_command("sh -s")
    channel.sendall(command.encode())
    channel.shutdown_write()
    while channel.recv(65536):
        pass
    channel.recv_exit_status()
    client.close()

with ThreadPoolExecutor(20) as pool:
    list(pool.map(one, ports))
"""


def paramiko_script(work: Path, fleet: SshdFleet) -> Method:
    """A bare Python script: one connection and one script per host, 20 threads,
    TCP_NODELAY, strict host keys (known_hosts read once, each client given its host's
    key); run as its own process, so start-up counts."""
    path = work / "paramiko_script.py"
    path.write_text(PARAMIKO_SCRIPT)
    ports = [h.port for h in fleet.hosts.values()]
    args = [ports, fleet.user, str(fleet.client_key), str(fleet.known_hosts), ONE_COMMAND]
    return lambda: run_quiet([sys.executable, str(path), json.dumps(args)])


def ansible_env(work: Path, fleet: SshdFleet) -> dict[str, str]:
    """Ansible with strict host keys, pipelining and ControlPersist."""
    ssh_args = (
        f"-o UserKnownHostsFile={fleet.known_hosts} -o StrictHostKeyChecking=yes "
        f"-o ControlMaster=auto -o ControlPersist=60s -o ControlPath={work}/cp-%C"
    )
    return {
        **os.environ, "LC_ALL": "C.UTF-8", "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_SSH_ARGS": ssh_args, "ANSIBLE_FORKS": "20", "ANSIBLE_HOME": str(work / "ah"),
        "ANSIBLE_HOST_KEY_CHECKING": "True", "ANSIBLE_NOCOLOR": "1",
    }  # fmt: skip


def run_quiet(argv: list[str], env: dict[str, str] | None = None) -> int:
    """Run a command; return its peak RSS in KiB (from wait4)."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {proc.returncode}: {err.decode()[-800:]}")
    return int(usage.ru_maxrss)


def playbook(work: Path) -> Path:
    """One shell task per check."""
    tasks = [
        {"name": name, "ansible.builtin.shell": cmd, "changed_when": False}
        for name, cmd, _ in CHECKS
    ]
    path = work / "bench.yml"
    path.write_text(yaml.safe_dump([{"hosts": "fleet", "gather_facts": False, "tasks": tasks}]))
    return path


def testinfra_module(work: Path) -> Path:
    """One test function per check."""
    body = "".join(
        f"def test_{name}(host):\n    assert host.run({cmd!r}).rc == 0\n\n"
        for name, cmd, _ in CHECKS
    )
    path = work / "test_bench.py"
    path.write_text(body)
    (work / "pytest.ini").write_text("[pytest]\n")
    return path


def methods(work: Path, fleet: SshdFleet, inventory: Path, full: bool) -> dict[str, Method]:
    """The methods to time, by name."""
    env = ansible_env(work, fleet)
    butler = [str(BIN / "butler-maint"), "-C", str(work), "check", "bench", "-i", str(inventory)]
    found: dict[str, Method] = {
        "ssh true (floor)": lambda: ssh_floor(fleet),
        "paramiko script": paramiko_script(work, fleet),
        "butler-maint": lambda: run_quiet([*butler, "--forks", "20", "--format", "json"]),
        "ansible ad hoc": lambda: run_quiet(
            [str(BIN / "ansible"), "fleet", "-i", str(inventory), "-m", "shell", "-a", ONE_COMMAND],
            env,
        ),
    }
    if full:
        book, module = playbook(work), testinfra_module(work)
        hosts = ",".join(
            f"paramiko://{fleet.user}@127.0.0.1:{h.port}" for h in fleet.hosts.values()
        )
        found["ansible-playbook"] = lambda: run_quiet(
            [str(BIN / "ansible-playbook"), "-i", str(inventory), str(book)], env
        )
        found["testinfra"] = lambda: run_quiet(
            [
                sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "-c", str(work / "pytest.ini"), str(module), f"--hosts={hosts}",
                f"--ssh-identity-file={fleet.client_key}", "-W", "ignore",
            ]
        )  # fmt: skip
    return found


def bench(count: int, rounds: int, full: bool, dotfiles: bool) -> None:
    """Time every method ``rounds`` times, interleaved, and print the table."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "home").mkdir()
        extra = [] if dotfiles else [f"SetEnv HOME={work / 'home'}"]
        with SshdFleet(work / "fleet", count, extra_config=extra) as fleet:
            inventory = write_content(work, fleet)
            table = methods(work, fleet, inventory, full)
            times: dict[str, list[float]] = {name: [] for name in table}
            rss: list[int] = []
            for method in table.values():  # warm-up, untimed: caches, .pyc files
                method()
            for _ in range(rounds):
                for name, method in table.items():  # interleaved: one of each per round
                    started = time.perf_counter()
                    peak = method()
                    times[name].append(time.perf_counter() - started)
                    if name == "butler-maint" and peak:
                        rss.append(peak)
    median = {name: statistics.median(ts) for name, ts in times.items()}
    ours = median["butler-maint"]
    shells = "login shells with dotfiles" if dotfiles else "empty remote HOME"
    print(f"\n{count} hosts x {len(CHECKS)} checks, median of {rounds} (wall s, start-up included,")
    print(f"{shells})")
    print("| method | s | / butler-maint |\n|---|---:|---:|")
    for name, seconds in median.items():
        print(f"| {name} | {seconds:.2f} | {seconds / ours:.2f}x |")
    floor, script = median["ssh true (floor)"], median["paramiko script"]
    print(
        f"butler-maint / ssh floor: {ours / floor:.2f}; / paramiko script: {ours / script:.2f}; "
        f"peak RSS {max(rss) / 1024:.0f} MB"
    )


def main() -> None:
    """Parse arguments and run the benchmark for each fleet size."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="also ansible-playbook and testinfra")
    parser.add_argument("--dotfiles", action="store_true", help="keep the login shell's HOME")
    args = parser.parse_args()
    # As on an installed system: every Python tool may read and write its .pyc files.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for count in args.hosts:
        bench(count, args.rounds, args.full, args.dotfiles)


if __name__ == "__main__":
    main()
