"""The prebuilt JupyterLab extension committed in src/nbmlops/labextension matches its sources.

`pip install` ships the committed build (no node needed), so a change to labextension/ must
come with a rebuild (`cd labextension && jlpm build:prod`), which rewrites build-stamp.json.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "labextension"
BUILT = ROOT / "src" / "nbmlops" / "labextension"


def source_digest() -> tuple[list[str], str]:
    """The digest scripts/stamp.js computes, over the same files in the same order."""
    files = ["package.json", "tsconfig.json", "yarn.lock"]
    for folder in ("src", "style"):
        files += [f"{folder}/{p.name}" for p in sorted((SOURCE / folder).iterdir())]
    digest = hashlib.sha256()
    for name in files:
        text = (SOURCE / name).read_text(encoding="utf-8").replace("\r\n", "\n")
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return files, digest.hexdigest()


def test_committed_build_matches_the_sources():
    stamp = json.loads((BUILT / "build-stamp.json").read_text())
    files, digest = source_digest()
    assert stamp["sources"] == files
    assert stamp["sha256"] == digest, (
        "labextension/ changed since src/nbmlops/labextension was built: "
        "run `cd labextension && jlpm build:prod` and commit the result"
    )


def test_built_extension_is_complete():
    package = json.loads((BUILT / "package.json").read_text())
    assert package["name"] == "nbmlops"
    remote = package["jupyterlab"]["_build"]["load"]
    assert (BUILT / remote).is_file()
    assert (BUILT / "static" / "style.js").is_file()
    # Only the files of the current build: no stale chunks from earlier builds.
    referenced = (BUILT / remote).read_text()
    for chunk in (BUILT / "static").glob("[0-9]*.js"):
        chunk_hash = chunk.name.split(".")[1]  # the loader maps chunk ids to these hashes
        assert chunk_hash in referenced, f"{chunk.name} is left over from an older build"
