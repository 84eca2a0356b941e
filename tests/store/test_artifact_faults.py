"""Stored content always matches its digest, and damaged content is repaired by a re-log.

A file still being written is read once, so the bytes hashed are the bytes stored; a blob
whose bytes no longer match its digest is replaced when the same content is logged again;
a full disk is a ``StoreFull`` that leaves no temporary file behind.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

import nbmlops
from nbmlops.errors import IntegrityError, StoreFull
from nbmlops.store import get_store
from tests.store._disk import fill, small_tmpfs  # noqa: F401 - a fixture


@pytest.fixture(autouse=True)
def _outside_any_git_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_a_file_being_appended_to_is_stored_under_the_digest_of_what_was_read(
    workspace, tmp_path: Path
):
    growing = tmp_path / "train.log"
    growing.write_bytes(os.urandom(4 << 20))
    stop = threading.Event()
    appended = threading.Event()

    def append() -> None:
        with open(growing, "ab") as fh:
            while not stop.is_set():
                fh.write(os.urandom(16 << 10))
                fh.flush()
                appended.set()
                stop.wait(0.0005)

    writer = threading.Thread(target=append, daemon=True)
    writer.start()
    assert appended.wait(60)
    try:
        with nbmlops.start_run(name="growing") as run:
            names = [run.log_artifact(growing, f"try-{i}/train.log")[0] for i in range(20)]
    finally:
        stop.set()
        writer.join(timeout=60)
    final = growing.read_bytes()
    sizes = set()
    for name in names:
        data = run.read_artifact(name)  # verified against its digest: IntegrityError if not
        assert len(data) >= 4 << 20
        assert final.startswith(data)  # a snapshot of the file as it was read
        sizes.add(len(data))
    assert len(sizes) > 1, "the file did not grow while it was logged"


def _damage(path: Path, same_size: bool) -> None:
    os.chmod(path, 0o644)
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]) if same_size else data[: len(data) // 2])
    os.chmod(path, 0o444)


@pytest.mark.parametrize("same_size", [True, False], ids=["flipped-byte", "truncated"])
@pytest.mark.parametrize("how", ["log_artifact", "log_text"])
def test_relogging_the_right_bytes_repairs_a_damaged_blob(workspace, tmp_path, same_size, how):
    content = "epoch,loss\n" + "".join(f"{i},{1 / (i + 1):.6f}\n" for i in range(2000))
    source = tmp_path / "history.csv"
    source.write_text(content)
    with nbmlops.start_run(name="first") as first:
        first.log_artifact(source)
    digest = hashlib.sha256(content.encode()).hexdigest()
    blob = Path(get_store().artifacts.path_of(digest))
    _damage(blob, same_size)
    with pytest.raises(IntegrityError, match="Re-log the artifact"):
        first.read_artifact("history.csv")

    with nbmlops.start_run(name="again") as again:  # the error's advice
        if how == "log_artifact":
            again.log_artifact(source)
        else:
            again.log_text(content, "history.csv")
    assert first.read_text("history.csv") == content  # repaired for every run using it
    assert again.read_text("history.csv") == content
    assert get_store().artifacts.verify(digest) == "ok"
    assert not [p for p in blob.parent.iterdir() if p.name.startswith(".tmp-")]


def test_a_full_disk_is_store_full_and_leaves_no_temporary_file(
    workspace,
    tmp_path,
    small_tmpfs,  # noqa: F811
):
    artifacts = small_tmpfs / "artifacts"
    nbmlops.configure(artifacts=str(artifacts))
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 << 20))
    filler = fill(small_tmpfs)
    os.truncate(filler, filler.stat().st_size - (1 << 20))  # 1 MB free: less than big.bin
    with nbmlops.start_run(name="full") as run:
        with pytest.raises(StoreFull, match="no space left") as caught:
            run.log_artifact(big)
        assert isinstance(caught.value, OSError)
        assert run.artifacts == []
        assert [p for p in artifacts.rglob(".tmp-*")] == []
        digest = hashlib.sha256(big.read_bytes()).hexdigest()
        assert not Path(get_store().artifacts.path_of(digest)).exists()
        filler.unlink()
        run.log_artifact(big)
    assert run.read_artifact("big.bin") == big.read_bytes()


@pytest.mark.parametrize("durable", [True, False])
def test_large_bytes_on_a_full_disk_are_store_full_and_leave_no_temporary_file(
    workspace,
    small_tmpfs,  # noqa: F811
    durable,
):
    from nbmlops.store import ArtifactStore

    blobs = ArtifactStore(str(small_tmpfs / "blobs"))
    data = os.urandom(3 << 20)  # written while a thread hashes it
    filler = fill(small_tmpfs)
    os.truncate(filler, filler.stat().st_size - (1 << 20))
    with pytest.raises(StoreFull, match="no space left"):
        blobs.put_bytes(data, durable=durable)
    assert [p for p in (small_tmpfs / "blobs").rglob("*") if p.is_file()] == []
    filler.unlink()
    digest, _ = blobs.put_bytes(data, durable=durable)
    assert blobs.get_bytes(digest) == data


def test_a_parquet_write_on_a_full_disk_is_store_full_and_leaves_nothing(
    workspace,
    small_tmpfs,  # noqa: F811
):
    import numpy as np
    import pyarrow as pa

    from nbmlops.store.parquet_files import ParquetFiles

    files = ParquetFiles(str(small_tmpfs / "offline"))
    table = pa.table({"x": np.random.default_rng(0).random(1_000_000)})  # ~8 MB: too big
    filler = fill(small_tmpfs)
    os.truncate(filler, filler.stat().st_size - (1 << 20))  # 1 MB free: room to start only
    with pytest.raises(StoreFull, match="no space left"):
        files.write_table(table, f"{files.root}/view/v1/0001.parquet")
    assert [p for p in (small_tmpfs / "offline").rglob("*") if p.is_file()] == []
