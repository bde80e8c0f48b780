"""`make monitor` fetches the deployed request log: regular files only, never what a link
planted in the host's log folder (the container's own volume) points at.

The host side runs here, in a local folder, exactly as it runs on the host over SSH;
the template's tests run it on a separate host through `make monitor`.
"""

import io
import os
import subprocess
import tarfile

from {{ cookiecutter.package_name }}.monitor.fetch import archive_script, unpack_regular_files

LOG_LINE = b'{"model_version": "1"}\n'


def host_archive(folder) -> bytes:
    result = subprocess.run(["sh", "-c", archive_script(str(folder))], capture_output=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_only_regular_log_files_leave_the_host(tmp_path):
    logs, secret = tmp_path / "host" / "requests", tmp_path / "host" / "id_ed25519"
    logs.mkdir(parents=True)
    secret.write_text("PRIVATE KEY")
    (logs / "requests.jsonl").write_bytes(LOG_LINE)
    (logs / "requests.jsonl.1").symlink_to(secret)  # planted by a compromised container
    (logs / "requests.jsonl.2").symlink_to(tmp_path / "host")
    os.mkfifo(logs / "requests.jsonl.3")  # a read that would never end
    (logs / "requests.jsonl.4").mkdir()
    into = tmp_path / "fetched"
    into.mkdir()
    copied, skipped = unpack_regular_files(host_archive(logs), into)
    assert copied == ["requests.jsonl"]
    assert sorted(skipped) == [
        "requests.jsonl.1 (a link)",
        "requests.jsonl.2 (a link)",
        "requests.jsonl.3 (not a regular file)",
        "requests.jsonl.4 (not a regular file)",
    ]
    assert [p.name for p in into.iterdir()] == ["requests.jsonl"]
    assert (into / "requests.jsonl").read_bytes() == LOG_LINE


def test_a_host_without_a_log_folder_sends_nothing(tmp_path):
    into = tmp_path / "fetched"
    into.mkdir()
    assert unpack_regular_files(host_archive(tmp_path / "none"), into) == ([], [])


def test_links_and_odd_names_in_the_stream_are_skipped_and_said(tmp_path):
    """Should a host send them anyway (another tar, a tampered host): written nowhere."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        link = tarfile.TarInfo("requests.jsonl.1")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
        for name in ("../requests.jsonl", "requests.jsonl"):
            member = tarfile.TarInfo(name)
            member.size = len(LOG_LINE)
            archive.addfile(member, io.BytesIO(LOG_LINE))
    into = tmp_path / "fetched"
    into.mkdir()
    copied, skipped = unpack_regular_files(buffer.getvalue(), into)
    assert copied == ["requests.jsonl"]
    assert skipped == ["requests.jsonl.1 (a link)", "../requests.jsonl (not a log file's name)"]
    assert [p.name for p in tmp_path.iterdir()] == ["fetched"]
