"""Artifacts are content-addressed, verified on read, and named only by safe relative paths."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nbmlops
from nbmlops.errors import ArtifactNotFound, IntegrityError, InvalidArtifactName, NbmlopsError
from nbmlops.store import ArtifactStore, get_store, validate_artifact_name

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIXTURE_SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(autouse=True)
def _outside_any_git_repo(tmp_path, monkeypatch):
    # A dirty repository would add a git.diff artifact to every run.
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def blobs(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(str(tmp_path / "blobs"))


@pytest.fixture
def run(backend):
    with nbmlops.start_run(name="artifacts") as active:
        yield active


def _blob_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _artifact_root() -> Path:
    return Path(get_store().artifacts.root)


def _tamper(path: Path, data: bytes) -> None:
    os.chmod(path, stat.S_IMODE(path.stat().st_mode) | stat.S_IWUSR)
    path.write_bytes(data)


# -- the store itself -------------------------------------------------------------------------


def test_blobs_live_at_their_sha256_and_are_stored_once(blobs: ArtifactStore, tmp_path: Path):
    data = b"hello artifacts\n"
    expected = hashlib.sha256(data).hexdigest()
    digest, size = blobs.put_bytes(data)
    assert (digest, size) == (expected, len(data))
    blob = tmp_path / "blobs" / "sha256" / expected[:2] / expected[2:]
    assert blob.is_file()
    assert blob.read_bytes() == data
    assert Path(blobs.path_of(digest)) == blob
    assert _blob_files(tmp_path / "blobs") == [blob]  # no temporary file left behind

    inode = blob.stat().st_ino
    assert blobs.put_bytes(data) == (expected, len(data))
    source = tmp_path / "same.txt"
    source.write_bytes(data)
    assert blobs.put_file(source) == (expected, len(data))
    assert _blob_files(tmp_path / "blobs") == [blob]
    # not rewritten (a rewrite renames a new file in); only its modification time is
    # refreshed, so `nbmlops gc` counts its grace period from this use
    assert blob.stat().st_ino == inode

    other, _ = blobs.put_bytes(b"other content")
    assert other != digest
    assert len(_blob_files(tmp_path / "blobs")) == 2


def test_blobs_are_written_read_only(blobs: ArtifactStore):
    digest, _ = blobs.put_bytes(b"immutable")
    mode = stat.S_IMODE(os.stat(blobs.path_of(digest)).st_mode)
    assert mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) == 0


def test_large_file_is_streamed_and_hashed_exactly(blobs: ArtifactStore, tmp_path: Path):
    data = os.urandom(3 * (1 << 20) + 123)  # several read chunks
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    digest, size = blobs.put_file(source)
    assert (digest, size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert blobs.get_bytes(digest) == data


def test_large_bytes_hashed_while_written_are_stored_once_and_repair_a_bad_blob(
    blobs: ArtifactStore, tmp_path: Path
):
    """Bytes of 1 MiB and more are written while a thread hashes them: the blob sits at the
    digest of exactly those bytes, is written once, leaves no temporary file, and replaces a
    stored copy whose bytes went bad."""
    data = os.urandom(5 * (1 << 20) + 7)
    expected = hashlib.sha256(data).hexdigest()
    assert blobs.put_bytes(data) == (expected, len(data))
    blob = Path(blobs.path_of(expected))
    inode = blob.stat().st_ino
    assert blobs.put_bytes(data, durable=False) == (expected, len(data))
    assert blob.stat().st_ino == inode and _blob_files(tmp_path / "blobs") == [blob]
    _tamper(blob, b"bad bytes")
    assert blobs.put_bytes(data) == (expected, len(data))
    assert blobs.get_bytes(expected) == data
    assert _blob_files(tmp_path / "blobs") == [blob]


def test_a_blob_written_through_a_file_is_readable_while_sealed_and_kept_under_its_digest(
    blobs: ArtifactStore, tmp_path: Path
):
    """The registry writes a model file into a blob writer, seals it (hashed and synced in a
    thread) and reads it back meanwhile; keeping it stores it at the digest of its bytes."""
    data = os.urandom(3 * (1 << 20) + 11)
    writer = blobs.blob_writer()
    writer.file.write(data[:1000])
    writer.file.write(data[1000:])
    assert _blob_files(tmp_path / "blobs")[0].name.startswith(".tmp-")  # not visible yet
    writer.seal()
    writer.file.seek(0)
    assert writer.file.read() == data  # read back while it is hashed
    expected = hashlib.sha256(data).hexdigest()
    assert writer.keep() == (expected, len(data))
    assert _blob_files(tmp_path / "blobs") == [Path(blobs.path_of(expected))]
    assert blobs.get_bytes(expected) == data
    assert blobs.unsynced == 0  # synced before keep() returned


def test_a_dropped_or_unsealed_blob_stores_nothing_and_an_empty_one_can_be_kept(
    blobs: ArtifactStore, tmp_path: Path
):
    from nbmlops.errors import StoreError

    dropped = blobs.blob_writer()
    dropped.file.write(b"never kept")
    dropped.seal()
    dropped.drop()
    unsealed = blobs.blob_writer()
    unsealed.file.write(b"not sealed")
    with pytest.raises(StoreError, match="seal"):
        unsealed.keep()
    unsealed.drop()
    assert _blob_files(tmp_path / "blobs") == []
    empty = blobs.blob_writer()
    empty.seal()
    assert empty.keep() == (hashlib.sha256(b"").hexdigest(), 0)


def test_a_blob_writer_keeps_an_intact_copy_and_replaces_a_damaged_one(
    blobs: ArtifactStore, tmp_path: Path
):
    data = os.urandom(2 << 20)
    digest, _ = blobs.put_bytes(data)
    blob = Path(blobs.path_of(digest))
    inode = blob.stat().st_ino

    def write_through_a_writer():
        writer = blobs.blob_writer()
        writer.file.write(data)
        writer.seal()
        return writer.keep()

    assert write_through_a_writer() == (digest, len(data))
    assert blob.stat().st_ino == inode and _blob_files(tmp_path / "blobs") == [blob]
    _tamper(blob, data[:-1])
    assert write_through_a_writer() == (digest, len(data))
    assert blobs.get_bytes(digest) == data and _blob_files(tmp_path / "blobs") == [blob]


def test_a_blob_writer_hashes_by_reading_where_files_cannot_be_mapped(
    blobs: ArtifactStore, monkeypatch
):
    import mmap

    def no_mmap(*args, **kwargs):
        raise OSError(19, "No such device")  # what a filesystem without mmap answers

    monkeypatch.setattr(mmap, "mmap", no_mmap)
    data = os.urandom(3 * (1 << 20) + 5)
    writer = blobs.blob_writer()
    writer.file.write(data)
    writer.seal()
    assert writer.keep() == (hashlib.sha256(data).hexdigest(), len(data))


def test_an_object_store_has_no_blob_writer():
    assert ArtifactStore(f"memory://nbmlops-{uuid.uuid4().hex}").blob_writer() is None


def test_read_verifies_content(blobs: ArtifactStore):
    digest, _ = blobs.put_bytes(b"original")
    _tamper(Path(blobs.path_of(digest)), b"tampered")
    with pytest.raises(IntegrityError, match="model.skops") as info:
        blobs.get_bytes(digest, "model.skops")
    assert info.value.name == "model.skops"
    assert info.value.expected == digest
    assert info.value.actual == hashlib.sha256(b"tampered").hexdigest()


def test_missing_blob_is_artifact_not_found(blobs: ArtifactStore):
    with pytest.raises(ArtifactNotFound, match="report.html"):
        blobs.get_bytes("ab" * 32, "report.html")


def test_any_fsspec_filesystem_works_and_is_verified():
    root = f"memory://nbmlops-test-{uuid.uuid4().hex}"
    store = ArtifactStore(root)
    try:
        digest, _ = store.put_bytes(b"in memory")
        assert store.exists(digest)
        assert store.get_bytes(digest) == b"in memory"
        store.fs.pipe_file(store.path_of(digest), b"changed behind our back")
        with pytest.raises(IntegrityError):
            store.get_bytes(digest, "x.txt")
    finally:
        store.fs.rm(store._base, recursive=True)


# -- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("model.skops", "model.skops"),
        ("plots/roc.png", "plots/roc.png"),
        ("plots/./roc.png", "plots/roc.png"),
        ("a//b.txt", "a/b.txt"),
        ("...", "..."),
        ("v1..2/x", "v1..2/x"),
    ],
)
def test_relative_names_are_normalized(name: str, normalized: str):
    assert validate_artifact_name(name) == normalized


BAD_NAMES = [
    "",
    "   ",
    "/etc/passwd",
    "//server/share",
    "../secret",
    "a/../../b",
    "a/../b",
    "plots/..",
    "..",
    "a\\b.txt",
    "..\\x",
    "C:/windows",
    ".",
    "./",
    "a\x00b",
    "a\nb",
    "x" * 1025,
    None,
    7,
    b"bytes",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_unsafe_names_are_refused_and_nothing_is_recorded(run, name, tmp_path: Path):
    source = tmp_path / "file.txt"
    source.write_text("content")
    before = _blob_files(_artifact_root())
    with pytest.raises(InvalidArtifactName) as info:
        run.log_text("secret content", name)
    assert isinstance(info.value, ValueError)
    with pytest.raises(InvalidArtifactName):
        run.log_artifact(source, name) if name else run.log_bytes(b"x", name)
    with pytest.raises(InvalidArtifactName):
        run.log_dict({"a": 1}, name)
    assert run.artifacts == []
    assert _blob_files(_artifact_root()) == before


def test_trailing_slash_names_a_folder_not_a_file(run):
    with pytest.raises(InvalidArtifactName, match="folder"):
        run.log_text("x", "plots/")
    assert run.artifacts == []


_segment = st.text(
    alphabet=st.characters(categories=["L", "N"]) | st.sampled_from("._- "),
    min_size=1,
    max_size=8,
)


@st.composite
def _escaping_names(draw) -> str:
    parts = draw(st.lists(_segment, max_size=4))
    position = draw(st.integers(0, len(parts)))
    parts.insert(position, "..")
    name = "/".join(parts)
    if draw(st.booleans()):
        name = "/" + name
    return name


_absolute_names = st.lists(_segment, min_size=1, max_size=4).map(lambda p: "/" + "/".join(p))


@FIXTURE_SETTINGS
@given(name=_escaping_names() | _absolute_names)
def test_generated_escaping_or_absolute_names_are_refused(run, name):
    with pytest.raises(InvalidArtifactName):
        run.log_text("payload", name)
    with pytest.raises(InvalidArtifactName):
        run.log_bytes(b"payload", name)
    assert run.artifacts == []


_safe_segment = st.text(
    alphabet=st.characters(categories=["L", "N"]) | st.sampled_from("_-"), min_size=1, max_size=8
)


@FIXTURE_SETTINGS
@given(parts=st.lists(_safe_segment, min_size=1, max_size=4), content=st.text(max_size=50))
def test_generated_safe_names_round_trip(run, parts, content):
    name = "/".join(parts)
    # A fresh run per example: "0" then "0/0" in one run is a file/folder clash, refused.
    with nbmlops.start_run() as fresh:
        assert fresh.log_text(content, name) == name
        assert fresh.artifacts == [name]
        assert fresh.read_text(name) == content


@pytest.mark.parametrize(
    ("first", "second"),
    [("plots", "plots/roc.png"), ("plots/roc.png", "plots"), ("a/b", "a/b/c/d"), ("a/b/c", "a")],
)
def test_a_name_cannot_be_both_file_and_folder(run, tmp_path, first, second):
    run.log_text("first", first)
    before = _blob_files(_artifact_root())
    with pytest.raises(InvalidArtifactName, match="both a file and the folder"):
        run.log_text("second", second)
    source = tmp_path / "file.txt"
    source.write_text("third")
    with pytest.raises(InvalidArtifactName, match="both a file and the folder"):
        run.log_artifact(source, second)
    assert run.artifacts == [first]
    assert _blob_files(_artifact_root()) == before
    out = run.download_artifacts(tmp_path / "download")
    assert (out / first).read_text() == "first"


def test_a_folder_logged_into_an_existing_file_name_writes_nothing(run, tmp_path):
    run.log_text("a file", "data")
    folder = tmp_path / "data"
    (folder / "sub").mkdir(parents=True)
    (folder / "one.csv").write_text("1")
    (folder / "sub" / "two.csv").write_text("2")
    with pytest.raises(InvalidArtifactName):
        run.log_artifact(folder)
    assert run.artifacts == ["data"]
    assert run.log_artifact(folder, "tables") == ["tables/one.csv", "tables/sub/two.csv"]


# -- Run API ----------------------------------------------------------------------------------


def test_same_content_in_two_runs_is_stored_once(backend):
    with nbmlops.start_run() as first:
        nbmlops.log_text("shared text", "notes.txt")
    with nbmlops.start_run() as second:
        nbmlops.log_text("shared text", "other/name.txt")
    digest = hashlib.sha256(b"shared text").hexdigest()
    meta = get_store().meta
    digests = {
        a["digest"] for r in (first, second) for a in meta.run_details(r.run_id)["artifacts"]
    }
    assert digest in digests
    blob = _artifact_root() / "sha256" / digest[:2] / digest[2:]
    assert blob.read_bytes() == b"shared text"
    assert first.read_text("notes.txt") == second.read_text("other/name.txt") == "shared text"
    same_blob = [p for p in _blob_files(_artifact_root()) if p.read_bytes() == b"shared text"]
    assert same_blob == [blob]


def test_tampered_blob_fails_read_with_the_artifact_name(run, tmp_path: Path):
    run.log_text("weights: 1, 2, 3", "models/weights.txt")
    digest = hashlib.sha256(b"weights: 1, 2, 3").hexdigest()
    blob = _artifact_root() / "sha256" / digest[:2] / digest[2:]
    assert run.read_text("models/weights.txt") == "weights: 1, 2, 3"

    _tamper(blob, b"weights: 6, 6, 6")
    with pytest.raises(IntegrityError, match="models/weights.txt") as info:
        run.read_artifact("models/weights.txt")
    assert info.value.name == "models/weights.txt"
    assert isinstance(info.value, NbmlopsError)
    with pytest.raises(IntegrityError, match="models/weights.txt"):
        run.download_artifacts(tmp_path / "out")
    with pytest.raises(IntegrityError):
        nbmlops.get_run(run.run_id).read_artifact("models/weights.txt")


def test_read_of_unknown_artifact_lists_what_exists(run):
    run.log_text("a", "a.txt")
    with pytest.raises(ArtifactNotFound, match="a.txt"):
        run.read_artifact("b.txt")


def test_log_artifact_of_a_folder_keeps_relative_paths(run, tmp_path: Path):
    folder = tmp_path / "report"
    (folder / "sub" / "deeper").mkdir(parents=True)
    files = {
        "index.html": b"<html></html>",
        "sub/data.csv": b"a,b\n1,2\n",
        "sub/deeper/blob.bin": bytes(range(256)),
        "sub/deeper/empty.txt": b"",
    }
    for rel, data in files.items():
        (folder / rel).write_bytes(data)

    names = run.log_artifact(folder)
    assert sorted(names) == sorted(f"report/{rel}" for rel in files)
    renamed = run.log_artifact(folder, name="html/v1")
    assert sorted(renamed) == sorted(f"html/v1/{rel}" for rel in files)
    single = run.log_artifact(folder / "sub" / "data.csv")
    assert single == ["data.csv"]

    assert sorted(run.artifacts) == sorted([*names, *renamed, "data.csv"])
    for rel, data in files.items():
        assert run.read_artifact(f"report/{rel}") == data

    out = run.download_artifacts(tmp_path / "download")
    for rel, data in files.items():
        assert (out / "report" / rel).read_bytes() == data
        assert (out / "html" / "v1" / rel).read_bytes() == data
    assert (out / "data.csv").read_bytes() == files["sub/data.csv"]


def test_log_artifact_of_a_missing_path_records_nothing(run, tmp_path: Path):
    with pytest.raises(ArtifactNotFound):
        run.log_artifact(tmp_path / "does-not-exist.txt")
    assert run.artifacts == []


def test_log_dict_json_round_trip(run):
    data = {
        "name": "model",
        "layers": [64, 32, 1],
        "dropout": 0.25,
        "nested": {"ok": True, "none": None},
        "unicode": "café ☕",
        "int": 12345678901234567890,
    }
    assert nbmlops.log_dict(data, "config/params.json") == "config/params.json"
    raw = run.read_artifact("config/params.json")
    assert json.loads(raw) == data
    assert json.loads(nbmlops.get_run(run.run_id).read_text("config/params.json")) == data
    media = {
        a["name"]: a["media_type"] for a in get_store().meta.run_details(run.run_id)["artifacts"]
    }
    assert media["config/params.json"] == "application/json"


def test_log_dict_yaml_round_trip(run):
    yaml = pytest.importorskip("yaml")
    data = {"b": [1, 2], "a": {"x": "y"}}
    run.log_dict(data, "conf.yaml")
    assert yaml.safe_load(run.read_text("conf.yaml")) == data


def test_log_text_round_trip_utf8(run):
    text = "line 1\nlígne 2 ✓\n"
    nbmlops.log_text(text, "notes/readme.md")
    assert run.read_text("notes/readme.md") == text
    assert run.read_artifact("notes/readme.md") == text.encode("utf-8")


def test_log_figure_matplotlib_png_and_svg(run):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [0, 1, 4])
    try:
        assert nbmlops.log_figure(fig, "plots/curve.png") == "plots/curve.png"
        run.log_figure(fig, "plots/curve.svg")
        with pytest.raises(InvalidArtifactName):
            run.log_figure(fig, "plots/curve.html")
    finally:
        plt.close(fig)
    png = run.read_artifact("plots/curve.png")
    assert png.startswith(PNG_MAGIC)
    assert len(png) > 1000
    assert b"<svg" in run.read_artifact("plots/curve.svg")
    assert sorted(run.artifacts) == ["plots/curve.png", "plots/curve.svg"]


def test_log_figure_plotly_json_and_html(run):
    go = pytest.importorskip("plotly.graph_objects")
    fig = go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2], name="series-a"))
    run.log_figure(fig, "fig.json")
    run.log_figure(fig, "fig.html")
    with pytest.raises(InvalidArtifactName):
        run.log_figure(fig, "fig.png")
    import plotly.io as pio

    loaded = pio.from_json(run.read_text("fig.json"))
    assert loaded.data[0].name == "series-a"
    assert list(loaded.data[0].y) == [3, 1, 2]
    html = run.read_text("fig.html")
    assert "<html" in html[:200].lower()
    assert html.rstrip().lower().endswith("</html>")
    assert "series-a" in html and "plotly" in html.lower()
    assert sorted(run.artifacts) == ["fig.html", "fig.json"]


def test_log_figure_refuses_what_is_not_a_figure(run):
    with pytest.raises(InvalidArtifactName, match="matplotlib or plotly"):
        run.log_figure({"not": "a figure"}, "x.png")
    assert run.artifacts == []


def test_every_accepted_set_of_names_can_be_downloaded(run, tmp_path: Path):
    # "plots" as a file and "plots/roc.png" cannot both exist on disk: either the second name
    # is refused when logged, or download_artifacts must still reproduce what was accepted.
    run.log_text("a file", "plots")
    try:
        run.log_text("inside", "plots/roc.png")
    except InvalidArtifactName:
        assert run.artifacts == ["plots"]
        return
    out = run.download_artifacts(tmp_path / "download")
    assert {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} == set(
        run.artifacts
    )


def test_artifact_store_on_a_filesystem_that_is_not_installed_says_what_to_install():
    try:
        import gcsfs  # noqa: F401

        pytest.skip("gcsfs is installed here; the missing-backend message cannot be shown")
    except ImportError:
        pass
    from nbmlops.errors import StoreError

    with pytest.raises(StoreError, match="gcsfs") as raised:
        ArtifactStore("gs://bucket/prefix")
    assert "NBMLOPS_ARTIFACTS" in str(raised.value)


def test_artifact_store_with_an_unknown_protocol_is_a_store_error():
    from nbmlops.errors import StoreError

    with pytest.raises(StoreError, match="nosuchproto"):
        ArtifactStore("nosuchproto://bucket/prefix")
