"""Files that hold patient data are readable by their owner only: folders 0700, files 0600.

The practice database, Rasa's conversations, the logs and the backups all live
under ``var/`` (or where DATABASE_URL points). They are created private here,
whatever the umask; ``var/`` itself is tightened on every start, so an older
install's world-readable folder stops exposing what is in it. Another
folder is never changed (``/tmp`` must stay ``/tmp``): only what we create.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
PRIVATE_UMASK = 0o077  # for the services the supervisor starts: what they create is private too


def private_dir(path: Path, *, tighten: bool = False) -> Path:
    """Make ``path`` and its missing parents as 0700; ``tighten`` also sets an existing ``path`` to 0700."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
        os.chmod(folder, PRIVATE_DIR_MODE)  # mkdir's mode is cut by the umask
    if tighten and not missing:
        os.chmod(path, PRIVATE_DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty as 0600 if it does not exist (an existing file is left as it is)."""
    path = Path(path)
    private_dir(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE))
    return path


def open_private_append(path: Path) -> BinaryIO:
    """``open(path, "ab")``, but a new file is created 0600 (a log of the services, say)."""
    private_dir(Path(path).parent)
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE_MODE), "ab")


def write_private_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path``, created 0600 (and an existing file tightened: it is replaced anyway)."""
    private_file(path)
    os.chmod(path, PRIVATE_FILE_MODE)
    Path(path).write_text(text)
    return path
