"""The request log's files: LOG_MAX_MB for the whole LOG_DIR folder, whoever wrote them.

Each process appends to its own requests[-<pid>].jsonl (several workers must not rotate
each other's files) and rotates it to .1 ... .4. After each write it deletes the oldest
requests*.jsonl* files in the folder (its own, other workers', those of killed workers and
of earlier runs) until the folder is within LOG_MAX_MB again. Workers pruning at once is
harmless: a file another one deleted first is skipped, and a worker whose file another
deleted reopens it at its next write.

Plain os calls, not logging's RotatingFileHandler: on a full disk that prints the failed
record (request rows) to stderr on every write, and it keeps writing to a deleted file, so
`rm` gives no space back. Here a failed write closes the file and raises: the caller says
so once; the next write reopens the path, as it does when the file was deleted or moved.

Files are 0640 and a folder the service creates 0750: the log holds what callers send. On
a deploy host the folder is the deploy user's (2770, setgid): the files take its group, and
the deploy user reads them through it.
"""

import contextlib
import os
import re
from pathlib import Path

BACKUPS = 4  # rotated copies of each process's file
FILE_MODE = 0o640
FOLDER_MODE = 0o750
NAME = "requests"
# Only the names written here (monitor/read_log.py reads them): other files in the folder
# are never counted or deleted.
LOG_FILE = re.compile(rf"^{NAME}(?:-\d+)?\.jsonl(?:\.\d+)?$")


def own_file(folder: Path, workers: int) -> Path:
    """requests.jsonl; with several workers one file per process (they must not rotate
    each other's files)."""
    suffix = f"-{os.getpid()}" if workers > 1 else ""
    return folder / f"{NAME}{suffix}.jsonl"


def written_by_a_live_process(name: str) -> bool:
    """requests-<pid>.jsonl of a process still running (a pid reused since only keeps an
    empty file)."""
    match = re.fullmatch(rf"{NAME}-(\d+)\.jsonl", name)
    if match is None:
        return False
    try:
        os.kill(int(match.group(1)), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


class LostRows(Exception):
    def __init__(self, rows: int, error: OSError):
        super().__init__(rows, error)
        self.rows, self.error = rows, error


class LogFiles:
    """One process's log file, rotated at `file_bytes`; the folder kept within `folder_bytes`."""

    def __init__(self, path: Path, folder_bytes: int, file_bytes: int):
        self.path, self.folder_bytes, self.file_bytes = path, folder_bytes, file_bytes
        # Lines written at once: a fraction of one file, so rotation keeps files under size.
        self.chunk_bytes = max(file_bytes // 4, 1)
        self.fd: int | None = None
        self.size = 0  # bytes in the open file

    def open(self) -> None:
        """At start: raises OSError where the folder cannot be written."""
        self._open()
        try:
            self.prune()
        except OSError:
            self.close()
            raise

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)

    def write(self, lines: list[str]) -> None:
        """Append the lines; raises LostRows (the file closed, to be reopened next time)."""
        written = 0
        try:
            if self.fd is None or not self._still_at_path():
                self.close()
                self._open()
            for chunk in self._chunks(lines):
                if self.size and self.size + len(chunk) > self.file_bytes:
                    self._rotate()
                self._append(chunk)
                written += chunk.count(b"\n")
            self.prune()
        except OSError as error:
            with contextlib.suppress(OSError):
                self.close()
            raise LostRows(len(lines) - written, error) from None

    def prune(self) -> None:
        """Delete the folder's oldest log files, never the open one, until it fits."""
        others = []
        with os.scandir(self.path.parent) as entries:
            for entry in entries:
                if LOG_FILE.match(entry.name) and entry.name != self.path.name:
                    try:
                        stat = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:  # another worker pruned it
                        continue
                    others.append((stat.st_mtime_ns, entry.name, stat.st_size))
        total = self.size + sum(size for *_, size in others)
        # Oldest first. Empty ones too, or each worker started and killed would leave one;
        # not a live worker's: it may be appending its first rows to it right now, and rows
        # written to a file deleted after this scan are lost without a word.
        for _, name, size in sorted(others):
            if total <= self.folder_bytes and (size or written_by_a_live_process(name)):
                continue
            with contextlib.suppress(FileNotFoundError):  # another worker was quicker
                os.remove(self.path.parent / name)
            total -= size

    def _open(self) -> None:
        self.path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        self.fd = fd = os.open(self.path, flags, FILE_MODE)
        self.size = os.fstat(fd).st_size

    def _still_at_path(self) -> bool:
        """The path still names the open file: not deleted, moved or replaced (the check
        logging's WatchedFileHandler makes)."""
        if self.fd is None:  # closed: no open file to compare with
            return False
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return False
        opened = os.fstat(self.fd)
        return (on_disk.st_dev, on_disk.st_ino) == (opened.st_dev, opened.st_ino)

    def _chunks(self, lines: list[str]):
        chunk: list[str] = []
        size = 0
        for line in lines:
            if chunk and size + len(line) + 1 > self.chunk_bytes:
                yield ("\n".join(chunk) + "\n").encode()
                chunk, size = [], 0
            chunk.append(line)
            size += len(line) + 1
        if chunk:
            yield ("\n".join(chunk) + "\n").encode()

    def _append(self, data: bytes) -> None:
        assert self.fd is not None, "write() and _rotate() open the file before appending"
        view = memoryview(data)
        while view:
            done = os.write(self.fd, view)
            self.size += done
            view = view[done:]

    def _rotate(self) -> None:
        self.close()
        # .3 -> .4 (replacing the oldest) ... .1 -> .2, then the live file -> .1
        for number in range(BACKUPS - 1, 0, -1):
            self._move(f"{self.path}.{number}", f"{self.path}.{number + 1}")
        self._move(self.path, f"{self.path}.1")
        self._open()

    @staticmethod
    def _move(source, target) -> None:
        with contextlib.suppress(FileNotFoundError):  # not written yet, or pruned by another worker
            os.replace(source, target)
