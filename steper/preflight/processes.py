"""Killing a command with everything it started, as a node failure would.

A process group is not enough: torchrun starts each rank in a session of its own, so a SIGKILL
to torchrun's group leaves the ranks training on as orphans (and a "killed" run finishes anyway).
Slurm ends a job's processes through its cgroup; here the tree is found through /proc.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path


def process_tree(root: int) -> list[int]:
    """`root` and every live process below it (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # the name in parentheses may hold spaces
        children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def kill_tree(root: int) -> None:
    """SIGKILL `root` (a child not yet waited for, so its pid is still its own), every process below
    it, and its process group, all at once."""
    for pid in process_tree(root):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    kill_group(root)


def kill_group(leader: int) -> None:
    """SIGKILL what is left of the process group a child started with `start_new_session`."""
    try:
        os.killpg(leader, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
