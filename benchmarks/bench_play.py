"""Benchmark: the same 10-task playbook on loopback sshd hosts through bare
``ansible-playbook`` and through ``butler-maint play``, interleaved. Not a test.

    .venv/bin/python benchmarks/bench_play.py [--hosts 20] [--rounds 5]

Both get the same connection settings (the ssh arguments butler-maint derives from
butler.yaml: project known_hosts, StrictHostKeyChecking, ControlPersist; pipelining),
the same forks and a fresh ControlPath directory per run, so neither reuses the
other's (or its own previous run's) ssh masters; masters are stopped after every run.
``butler-maint play`` is timed as a whole command: start-up, inventory, ansible-runner,
evidence report and artifacts. Rounds alternate which goes first. The hosts' login
shells start with an empty HOME (sshd ``SetEnv``) unless ``--dotfiles``: a slow
``~/.bashrc`` (~85 ms per command on the test machine) would otherwise
dominate both sides and hide the controller's overhead. Prints median and
mean wall seconds of each and the ratio (the target is <= 1.10), and the CPU seconds
(user + system) of each command's process tree, less sensitive to a busy machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from butler_maint.executors.ssh import SshOptions
from butler_maint.playbooks.connection import UserSettings, connection_env
from butler_maint.playbooks.runner import MARKER_VAR, stop_strays
from tests.harness.sshd_fleet import SshdFleet

BIN = Path(sys.executable).parent
PLAYBOOK = """\
- name: Ten tasks in each host's sandbox
  hosts: fleet
  gather_facts: false
  vars: {dir: "{{ sandbox }}/bench"}
  tasks:
    - name: directory
      ansible.builtin.file: {path: "{{ dir }}", state: directory, mode: "0755"}
    - name: file content
      ansible.builtin.copy: {content: "round {{ round }}\\n", dest: "{{ dir }}/content"}
    - name: stat it
      ansible.builtin.stat: {path: "{{ dir }}/content"}
      register: st
    - name: line in file
      ansible.builtin.lineinfile: {path: "{{ dir }}/lines", line: "r{{ round }}", create: true}
    - name: command
      ansible.builtin.command: {cmd: "cat {{ dir }}/content"}
      changed_when: false
    - name: shell
      ansible.builtin.shell: "ls {{ dir }} | wc -l"
      changed_when: false
    - name: fact
      ansible.builtin.set_fact: {size: "{{ st.stat.size }}"}
    - name: debug
      ansible.builtin.debug: {msg: "size {{ size }}"}
    - name: mode
      ansible.builtin.file: {path: "{{ dir }}/content", mode: "0640"}
    - name: cleanup
      ansible.builtin.file: {path: "{{ dir }}/lines", state: absent}
"""


def write_content(work: Path, fleet: SshdFleet) -> Path:
    """Content repo: butler.yaml, inventory, playbook."""
    (work / "playbooks").mkdir(parents=True)
    (work / "playbooks" / "bench.yml").write_text(PLAYBOOK)
    settings = {
        "inventory": "hosts.yml",
        "forks": 20,
        "ssh": {"known_hosts": str(fleet.known_hosts), "system_known_hosts": False},
    }
    (work / "butler.yaml").write_text(yaml.safe_dump(settings))
    python = {n: {"ansible_python_interpreter": "/usr/bin/python3"} for n in fleet.hosts}
    fleet.write_inventory(work / "hosts.yml", extra_vars=python)
    return work


def bare_env(fleet: SshdFleet, run_dir: Path, marker: str) -> dict[str, str]:
    """The environment butler-maint would give ansible-playbook, for the bare run."""
    options = SshOptions(project_known_hosts=fleet.known_hosts, trusted_known_hosts=())
    conn = connection_env(options, UserSettings(), run_dir, run_dir / "cp")
    (run_dir / "cp").mkdir()
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
    return {**os.environ, **conn.env, MARKER_VAR: marker, "PATH": path}


def children_cpu() -> float:
    """CPU seconds used so far by reaped child processes (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_bare(work: Path, fleet: SshdFleet, round_: int) -> tuple[float, float]:
    """Bare ansible-playbook, its display output to /dev/null."""
    marker = secrets.token_hex(8)
    with tempfile.TemporaryDirectory(prefix="bench-bare-") as tmp:
        env = bare_env(fleet, Path(tmp), marker)
        argv = [
            str(BIN / "ansible-playbook"), "-i", str(work / "hosts.yml"), "--forks", "20",
            "-e", f"round={round_}", str(work / "playbooks" / "bench.yml"),
        ]  # fmt: skip
        cpu, start = children_cpu(), time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=work, stdout=subprocess.DEVNULL, check=False)
        elapsed, cpu = time.perf_counter() - start, children_cpu() - cpu
        stop_strays(marker, [Path(tmp)])
    if done.returncode != 0:
        raise RuntimeError(f"ansible-playbook failed: rc {done.returncode}")
    return elapsed, cpu


def run_butler(work: Path, round_: int) -> tuple[float, float]:
    """``butler-maint play``, as an operator runs it (not on a terminal)."""
    argv = [str(BIN / "butler-maint"), "-C", str(work), "play", "bench", "-e", f"round={round_}"]
    cpu, start = children_cpu(), time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed, cpu = time.perf_counter() - start, children_cpu() - cpu
    if done.returncode != 0:
        why = done.stderr[-2000:].decode(errors="replace")
        raise RuntimeError(f"butler-maint play failed: {done.returncode}: {why}")
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dotfiles", action="store_true", help="keep the login shell's HOME")
    args = parser.parse_args()
    # As on an installed system: every Python tool may read and write its .pyc files.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory(prefix="bench-play-") as tmp:
        base = Path(tmp)
        home = base / "remote-home"
        (home / ".ansible" / "tmp").mkdir(parents=True, mode=0o700)  # 20 hosts at once race
        extra = [] if args.dotfiles else [f"SetEnv HOME={home}"]
        with SshdFleet(base / "fleet", args.hosts, extra_config=extra) as fleet:
            work = write_content(base / "content", fleet)
            run_bare(work, fleet, 0)  # warm-up: page cache, pyc files
            run_butler(work, 0)
            times: dict[str, list[float]] = {"ansible-playbook": [], "butler-maint play": []}
            cpus: dict[str, list[float]] = {name: [] for name in times}
            for round_ in range(1, args.rounds + 1):
                pair = [
                    ("ansible-playbook", lambda r=round_: run_bare(work, fleet, r)),
                    ("butler-maint play", lambda r=round_: run_butler(work, r)),
                ]
                for name, method in pair if round_ % 2 else reversed(pair):
                    wall, cpu = method()
                    times[name].append(wall)
                    cpus[name].append(cpu)
                    print(f"round {round_}: {name}: {wall:.2f} s wall, {cpu:.2f} s cpu", flush=True)
    print(f"\n{args.hosts} hosts x 10 tasks, {args.rounds} interleaved rounds, forks 20")
    for name, values in times.items():
        print(
            f"{name:<18} wall median {statistics.median(values):6.2f} s  "
            f"mean {statistics.mean(values):6.2f} s  min {min(values):6.2f} s   "
            f"cpu median {statistics.median(cpus[name]):6.2f} s"
        )
    bare, ours = (statistics.median(v) for v in times.values())
    bare_cpu, our_cpu = (statistics.median(v) for v in cpus.values())
    print(f"ratio butler-maint / ansible-playbook (median wall): {ours / bare:.3f}")
    print(f"ratio butler-maint / ansible-playbook (median cpu):  {our_cpu / bare_cpu:.3f}")


if __name__ == "__main__":
    main()
