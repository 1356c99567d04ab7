"""files/archives: the tar packing and the guarded unpacking every worker upload and download goes through."""

from __future__ import annotations

import io
import tarfile

import pytest

from training_dashboard.files.archives import UnsafeArchive, extract, member_path, pack


def _tree(root):  # type: ignore[no-untyped-def]
    (root / "checkpoints" / "step-000002").mkdir(parents=True)
    (root / "checkpoints" / "step-000002" / "trainer_state.pt").write_bytes(b"s" * 10)
    (root / "best").mkdir()
    (root / "best" / "best_eval.json").write_text('{"step": 2}')
    (root / "training_report.json").write_text("{}")
    (root / "link").symlink_to("/etc/passwd")
    return root


def test_pack_then_extract_round_trip_without_links_or_excluded_tops(tmp_path):
    src = _tree(tmp_path / "src")
    buf = io.BytesIO()
    pack(src, buf, exclude_top=("checkpoints",))
    buf.seek(0)
    files = extract(buf, tmp_path / "out", max_bytes=1000)
    assert sorted(files) == ["best/best_eval.json", "training_report.json"]
    assert (tmp_path / "out" / "best" / "best_eval.json").read_text() == '{"step": 2}'
    buf = io.BytesIO()
    pack(src, buf, paths=["checkpoints/step-000002", "missing.json"])
    buf.seek(0)
    assert extract(buf, tmp_path / "only", max_bytes=1000) == ["checkpoints/step-000002/trainer_state.pt"]


def _tar(files: dict[str, bytes]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def test_size_and_member_limits(tmp_path):
    with pytest.raises(UnsafeArchive, match="exceed 50 bytes"):
        extract(_tar({"a": b"x" * 30, "b": b"y" * 30}), tmp_path / "size", max_bytes=50)
    with pytest.raises(UnsafeArchive, match="more than 2 entries"):
        extract(_tar({"a": b"", "b": b"", "c": b""}), tmp_path / "count", max_bytes=50, max_members=2)
    with pytest.raises(UnsafeArchive, match="empty archive"):
        extract(_tar({}), tmp_path / "empty", max_bytes=50)
    truncated = _tar({"a": b"x" * 2000}).getvalue()[:700]
    with pytest.raises(UnsafeArchive, match="not a readable tar"):
        extract(io.BytesIO(truncated), tmp_path / "cut", max_bytes=5000)


@pytest.mark.parametrize("name", ["/abs", "../up", "a/../../up", "a\\b", "", "./"])
def test_unsafe_names(name):
    with pytest.raises(UnsafeArchive):
        member_path(name)


def test_a_file_over_a_directory_is_refused(tmp_path):
    with pytest.raises(UnsafeArchive, match="a directory of that name exists"):
        extract(_tar({"a/b": b"1", "a": b"2"}), tmp_path / "x", max_bytes=50)
    with pytest.raises(UnsafeArchive, match="a file of that name is in its way"):
        extract(_tar({"a": b"2", "a/b": b"1"}), tmp_path / "y", max_bytes=50)
    with pytest.raises(UnsafeArchive, match="name too long"):
        extract(_tar({"n" * 300: b"1"}), tmp_path / "z", max_bytes=50)
    assert str(member_path("./a//b/./c")) == "a/b/c"
