"""Saving and loading model objects without running code nobody vouched for.

scikit-learn estimators (and pipelines, searches, … built from them) are saved with skops,
whose loader builds only the types it is told to trust. nbmlops trusts skops' own defaults plus
an explicit list of the objects fitted scikit-learn models hold (tree and neighbour
structures, kernels, scorers, splitters; see :mod:`._trust`); any other type named in the file
(a custom transformer, a function, a testing class of scikit-learn) makes the load fail with
:class:`~nbmlops.errors.UntrustedModelError` unless ``trusted=True`` or the type is listed in
``trusted=[...]``. A file that is no readable skops file is :class:`~nbmlops.errors.InvalidModel`.

Anything skops cannot save is pickled (cloudpickle when installed, for lambdas and notebook
classes); a pickle can run arbitrary code when loaded, so loading one always needs
``trusted=True``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import importlib.metadata
import io
import pickle
import platform
import struct
import sys
import warnings
import zipfile
from collections.abc import Callable
from typing import Any, NamedTuple

from ..errors import InvalidModel, StoreError, UntrustedModelError
from ..tracking.frameworks import framework_of
from . import _npy, _trust, flavors

SKOPS = "skops"
PICKLE = "pickle"
CLOUDPICKLE = "cloudpickle"
FLAVORS = (SKOPS, PICKLE, CLOUDPICKLE, *flavors.NATIVE)
EXTENSIONS = {SKOPS: "skops", PICKLE: "pkl", CLOUDPICKLE: "pkl", **flavors.EXTENSIONS}
# Versions worth comparing when a model is loaded somewhere else.
_CORE_PACKAGES = ("scikit-learn", "numpy", "scipy", "pandas", "skops")


class PackageVersionWarning(UserWarning):
    """A model is loaded under package versions that differ from the ones it was saved with."""


@contextlib.contextmanager
def _collector_paused():
    """Pause Python's cyclic garbage collector while a model's object graph is built or
    walked, then restore it as it was.

    Building a 300-tree forest from its file allocates tens of thousands of containers, and
    the collector, triggered by the allocation count, walks every live object of the process
    each time it reaches its oldest generation: about one load in four took twice as long
    (220 ms against 410 ms), more in a kernel full of the user's objects. Nothing built here
    is garbage until the model is, so collecting meanwhile finds nothing.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _is_estimator(obj: object) -> bool:
    base = sys.modules.get("sklearn.base")
    return base is not None and isinstance(obj, base.BaseEstimator)


class Saved(NamedTuple):
    """A saved model: its flavor, its bytes (None when written to ``blob``), the types a
    loader must be told to trust, and the sealed blob writer it was written to, if any."""

    flavor: str
    data: bytes | None
    untrusted: list[str]
    blob: Any = None


def serialize(model: Any, open_blob: Callable[[], Any] | None = None) -> Saved:
    """``model`` saved in the framework's own file format for XGBoost, LightGBM and CatBoost
    models and PyTorch modules (see :mod:`.flavors`), skops for scikit-learn objects, else
    pickle.

    With ``open_blob`` (a store's :meth:`~nbmlops.store.artifacts.ArtifactStore.blob_writer`)
    the file is written straight into a new blob, which is sealed (hashed and synced in a
    thread) before the skops file's types are audited, so the two overlap; the caller keeps
    or drops ``Saved.blob``. Without it, the bytes are returned in ``Saved.data``.
    """
    native = flavors.native_flavor(model)
    if native is not None:
        try:
            data = flavors.save(native, model)
        except Exception as exc:  # noqa: BLE001 - say why, then try the generic formats
            warnings.warn(
                f"{native} could not save this {type(model).__name__} in its own format "
                f"({type(exc).__name__}: {exc}); it is saved with skops or pickle instead",
                UserWarning,
                stacklevel=3,
            )
        else:
            return _written(native, data, [], open_blob)
    if _is_estimator(model):
        try:
            return _skops_dumps(model, open_blob)
        except StoreError:  # the disk, not the model: pickling would meet it too
            raise
        except Exception as exc:  # noqa: BLE001 - fall back to pickle below, but say why
            warnings.warn(
                f"skops cannot save this {type(model).__name__} ({exc}); it is pickled "
                "instead and loading it will need trusted=True",
                UserWarning,
                stacklevel=3,
            )
    try:
        flavor, data = PICKLE, pickle.dumps(model, protocol=5)
    except Exception as first:  # noqa: BLE001 - lambdas, notebook-defined classes …
        try:
            import cloudpickle
        except ImportError:
            raise InvalidModel(
                f"cannot save {type(model).__name__}: pickle failed ({first}); install "
                "cloudpickle (pip install cloudpickle) to save objects defined in a notebook"
            ) from None
        try:
            flavor, data = CLOUDPICKLE, cloudpickle.dumps(model, protocol=5)
        except Exception as exc:  # noqa: BLE001
            raise InvalidModel(f"cannot save {type(model).__name__}: {exc}") from None
    return _written(flavor, data, [], open_blob)


def _written(
    flavor: str, data: bytes, untrusted: list[str], open_blob: Callable[[], Any] | None
) -> Saved:
    """``Saved`` for bytes already made, written to a new blob when one can be opened."""
    blob = open_blob() if open_blob is not None else None
    if blob is None:
        return Saved(flavor, data, untrusted)
    with blob.writing() as fh:
        fh.write(data)
    blob.seal()
    return Saved(flavor, None, untrusted, blob)


@_collector_paused()
def _skops_dumps(model: Any, open_blob: Callable[[], Any] | None = None) -> Saved:
    """The skops file of ``model`` and the types skops flags in it, in one pass.

    ``skops.io.dumps`` writes its schema with ``json.dumps(indent=2)`` (Python's pure-Python
    encoder: most of a forest's save), and ``get_untrusted_types(data=...)`` then re-reads the
    whole file. This writes the same file with a compact schema (the C encoder; the same JSON
    to any reader), into the blob when ``open_blob`` gives one (no second copy in memory),
    and audits the schema just written with skops' own tree and audit. With a skops whose
    internals differ, the two public calls are used.
    """
    import skops.io as sio

    try:
        import skops
        from skops.io._audit import get_tree
        from skops.io._persist import SaveContext, get_state, read_schema
    except ImportError:
        data = sio.dumps(model)
        return _written(SKOPS, data, sorted(sio.get_untrusted_types(data=data)), open_blob)
    import json

    blob = open_blob() if open_blob is not None else None
    # Into the blob, a failure drops it (a failed write is a StoreError); into memory, a
    # failure is the model's, and the caller pickles instead.
    with blob.writing() if blob is not None else contextlib.nullcontext(io.BytesIO()) as out:
        with _NamedZip(out, "w", compression=zipfile.ZIP_STORED) as zip_file:
            context = SaveContext(zip_file=zip_file)
            state = get_state(model, context)
            context.clear_memo()
            state["protocol"] = context.protocol
            state["_skops_version"] = skops.__version__
            zip_file.writestr("schema.json", json.dumps(state))
        if blob is not None:
            blob.seal()  # hashed and synced from here on, while the audit reads it back
        out.seek(0)
        # Audit what a loader reads, as get_untrusted_types does.
        with zipfile.ZipFile(out, "r") as written:
            schema, load_context = read_schema(written)
            # The audit looks at types, never at array contents: the tree's nodes only keep
            # their member's bytes for later, so they get none (reading 3,000 members of a
            # 300-tree forest was a third of the save).
            load_context = dataclasses.replace(load_context, src=_NamesOnly(written))
            flagged = sorted(get_tree(schema, load_context, trusted=None).get_unsafe_set())
    if blob is not None:
        return Saved(SKOPS, None, flagged, blob)
    return Saved(SKOPS, out.getvalue(), flagged)


class _NamedZip(zipfile.ZipFile):
    """A zip writer whose ``namelist()`` answers ``name in ...`` from its index.

    skops asks ``f"{id}.npy" not in zip_file.namelist()`` before writing each array, and
    ``ZipFile.namelist`` builds a new list of every member each time: quadratic in the
    arrays (a 300-tree forest has 3,000; a tenth of its save).
    """

    def namelist(self):  # type: ignore[override]
        return self.NameToInfo.keys()


class _NamesOnly:
    """A skops file's member source for an audit: each member exists (``KeyError`` when it
    does not, as :meth:`zipfile.ZipFile.read`), and its bytes are never read."""

    def __init__(self, zip_file: Any):
        self._zip = zip_file

    def read(self, name: str) -> bytes:
        self._zip.getinfo(name)
        return b""


class _StoredMembers:
    """A skops file's member source that slices uncompressed members straight out of the
    file's bytes.

    :meth:`zipfile.ZipFile.read` opens, seeks, re-reads the local header and checks a CRC for
    each member: for the 3,000 arrays of a 300-tree forest, a fifth of a load. The bytes given
    here are verified against their SHA-256 before anything is built from them, which the CRC
    adds nothing to. Compressed, encrypted or odd members are read by ``zipfile`` as usual.
    """

    _LOCAL_HEADER = b"PK\x03\x04"

    def __init__(self, zip_file: Any, data: bytes):
        self._zip = zip_file
        self._data = memoryview(data)

    def read(self, name: str) -> bytes | memoryview:
        info = self._zip.getinfo(name)  # KeyError for a missing member, as zipfile
        start = info.header_offset
        header = self._data[start : start + 30]
        if (
            info.compress_type != zipfile.ZIP_STORED
            or info.flag_bits & 0x1  # encrypted
            or len(header) < 30
            or header[:4] != self._LOCAL_HEADER
        ):
            return self._zip.read(name)
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        begin = start + 30 + name_length + extra_length
        content = self._data[begin : begin + info.compress_size]
        if len(content) != info.file_size:
            return self._zip.read(name)  # truncated: let zipfile say so
        return content  # a view: skops' nodes copy it into a BytesIO, arrays read it as is


def _flagged_types(data: bytes, uri: str) -> list[str]:
    """Every type skops does not trust by default in the file, or ``InvalidModel`` when the
    bytes are no skops file (not a zip, truncated, a schema skops cannot read)."""
    import skops.io as sio

    try:
        return sorted(sio.get_untrusted_types(data=data))
    except Exception as exc:  # noqa: BLE001 - BadZipFile, KeyError, JSON and schema errors
        raise _unreadable(uri, exc) from None


def _nothing() -> None:
    return None


@_collector_paused()
def _audited_load(data: bytes, uri: str, decide: Any, verify: Any = _nothing) -> Any:
    """Read the skops file's tree once: ``decide(flagged types)`` raises to refuse it, else
    the object is built from that same tree.

    ``skops.io.get_untrusted_types`` and ``skops.io.loads`` each parse and audit the whole
    file (for a 300-tree forest, most of a load); this does it once. It uses skops' reading
    functions of 0.10 and later; with any other layout it falls back to the two public calls.
    ``verify()`` (the check that the bytes are the stored ones) is called before anything is
    decided or built from them: parsing may overlap it, nothing else.
    """
    try:
        from skops.io._audit import get_tree
        from skops.io._persist import read_schema
    except ImportError:
        return _two_pass_load(data, uri, decide, verify)
    _register_fast_arrays()
    try:
        zip_file = zipfile.ZipFile(io.BytesIO(data), "r")
    except Exception as exc:  # noqa: BLE001 - not a zip file at all
        verify()  # damaged storage says so (IntegrityError) before "unreadable"
        raise _unreadable(uri, exc) from None
    with zip_file:  # the tree reads its arrays from the open file while it is built
        try:
            schema, load_context = read_schema(zip_file)
            load_context = dataclasses.replace(load_context, src=_StoredMembers(zip_file, data))
            tree = get_tree(schema, load_context, trusted=None)
            flagged = sorted(tree.get_unsafe_set())
        except Exception:  # noqa: BLE001 - damaged, or another skops layout: the public calls
            return _two_pass_load(data, uri, decide, verify)  # say which
        verify()
        decide(flagged)  # raises UntrustedModelError before anything is built
        try:
            # skops' own audit_tree(tree, trusted=flagged) would walk the tree again to find
            # nothing: every flagged type was just accepted (or refused) above.
            return tree.construct()
        except Exception as exc:  # noqa: BLE001 - a damaged file fails in many ways
            raise _unreadable(uri, exc) from None


@functools.lru_cache(maxsize=1)
def _register_fast_arrays() -> None:
    """Arrays and trees are built by :func:`nbmlops.registry._npy.fast_nodes` instead of
    skops' own nodes (a 300-tree forest loads ~50 ms sooner, and makes no copy of its trees).

    Registered once, in skops' own table of node types, and only over skops' array and tree
    nodes: they build the same objects and leave every other case to skops.
    """
    from skops.io import _audit

    fast = _npy.fast_nodes()
    for key, node in list(_audit.NODE_TYPE_MAPPING.items()):
        replacement = fast.get(key[0])
        if replacement is not None and replacement.__mro__[1] is node:
            _audit.NODE_TYPE_MAPPING[key] = replacement


def _two_pass_load(data: bytes, uri: str, decide: Any, verify: Any = _nothing) -> Any:
    import skops.io as sio

    verify()
    flagged = _flagged_types(data, uri)
    decide(flagged)
    try:
        return sio.loads(data, trusted=flagged)
    except Exception as exc:  # noqa: BLE001 - a damaged file fails in many ways
        raise _unreadable(uri, exc) from None


def _unreadable(uri: str, exc: Exception) -> InvalidModel:
    return InvalidModel(
        f"{uri} is not a readable skops model file ({type(exc).__name__}: {str(exc)[:200]}); "
        "the stored file is damaged or was not written by nbmlops. Register the model again"
    )


def untrusted_types(data: bytes, uri: str = "the model") -> list[str]:
    """The types a skops file names that neither skops nor nbmlops' list trusts."""
    return _trust.untrusted(_flagged_types(data, uri))


def trusted_names(trusted: object) -> list[str] | bool:
    """``trusted`` as True/False or a list of type names (``InvalidArgumentType`` if not)."""
    if isinstance(trusted, bool):
        return trusted
    if isinstance(trusted, (list, tuple)) and all(isinstance(t, str) for t in trusted):
        return list(trusted)
    from ..errors import InvalidArgumentType

    raise InvalidArgumentType("trusted", "True, False or a list of type names", trusted)


def deserialize(
    flavor: str,
    data: bytes,
    uri: str,
    trusted: bool | list[str] = False,
    verify: Any = _nothing,
) -> Any:
    """Load bytes written by :func:`serialize`.

    ``trusted=True`` loads whatever the file holds; a list of type names trusts those types
    (skops only); ``False`` refuses pickles and unknown skops types. ``verify()`` raises when
    ``data`` are not the stored bytes: a skops file is parsed while it runs (it releases the
    GIL), anything else waits for it.
    """
    trusted = trusted_names(trusted)
    if flavor != SKOPS:
        verify()
    if flavor in flavors.NATIVE:
        return flavors.load(flavor, data, uri)  # no pickle: nothing to trust
    if flavor == SKOPS:
        allowed = trusted if isinstance(trusted, list) else []

        def decide(flagged: list[str]) -> None:
            refused = [t for t in _trust.untrusted(flagged) if t not in allowed]
            if refused and trusted is not True:
                raise UntrustedModelError(
                    uri,
                    "it names types that neither skops nor nbmlops trusts: "
                    f"{', '.join(refused)}; loading them could run their code",
                    refused,
                )

        return _audited_load(data, uri, decide, verify)
    if flavor in (PICKLE, CLOUDPICKLE):
        if trusted is not True:
            raise UntrustedModelError(
                uri, f"it is stored as a {flavor} file, and unpickling can run arbitrary code"
            )
        if flavor == CLOUDPICKLE:
            try:
                import cloudpickle  # noqa: F401 - registers what its pickles need
            except ImportError:
                raise InvalidModel(
                    f"{uri} was saved with cloudpickle; install it: pip install cloudpickle"
                ) from None
        try:
            return pickle.load(io.BytesIO(data))  # noqa: S301 - trusted=True was given
        except (
            pickle.UnpicklingError,
            EOFError,
            ValueError,
            TypeError,
            AttributeError,
            ImportError,
        ) as exc:
            raise InvalidModel(
                f"{uri} is not a readable {flavor} file ({type(exc).__name__}: {exc})"
            ) from None
    raise InvalidModel(f"{uri} has an unknown storage format {flavor!r}; upgrade nbmlops")


@functools.lru_cache(maxsize=256)
def _version(dist: str) -> str | None:
    # Read once per process (each lookup scans the installed distributions, 3-10 ms): the
    # code a model runs with is the code this process imported.
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


# Import names whose distribution is known without asking importlib (the common cases).
_KNOWN_DISTRIBUTIONS = {
    "sklearn": "scikit-learn",
    "numpy": "numpy",
    "scipy": "scipy",
    "pandas": "pandas",
    "skops": "skops",
}


@functools.lru_cache(maxsize=1)
def _packages_distributions() -> dict[str, list[str]]:
    # Walks every installed file list: 1-3 s with a few hundred packages, so once per process.
    return importlib.metadata.packages_distributions()


@functools.lru_cache(maxsize=256)
def _distribution_of(module: str) -> str | None:
    top = module.split(".")[0]
    if top in _KNOWN_DISTRIBUTIONS:
        return _KNOWN_DISTRIBUTIONS[top]
    if top in ("__main__", "builtins") or not top:
        return None  # defined in the notebook or the interpreter: no distribution
    try:
        # Most distributions are named like their import name (xgboost, lightgbm, catboost).
        return importlib.metadata.distribution(top).metadata["Name"] or top
    except importlib.metadata.PackageNotFoundError:
        pass
    names = _packages_distributions().get(top)
    return names[0] if names else None


def package_versions(model: Any) -> dict[str, str]:
    """Python and the versions of the packages the model's behaviour depends on."""
    found = {"python": platform.python_version()}
    dists = list(_CORE_PACKAGES)
    own = _distribution_of(framework_of(model) or type(model).__module__)
    if own and own not in dists:
        dists.append(own)
    for dist in dists:
        version = _version(dist)
        if version is not None:
            found[dist] = version
    return found


def version_differences(saved: dict[str, str]) -> dict[str, tuple[str, str | None]]:
    """``{package: (saved, now)}`` for each package whose version differs from the saved one."""
    diffs: dict[str, tuple[str, str | None]] = {}
    for dist, then in saved.items():
        now = platform.python_version() if dist == "python" else _version(dist)
        if dist == "python":
            # Patch releases do not change pickled behaviour; compare major.minor.
            if now.rsplit(".", 1)[0] != then.rsplit(".", 1)[0]:
                diffs[dist] = (then, now)
        elif now != then:
            diffs[dist] = (then, now)
    return diffs


def warn_on_version_differences(uri: str, saved: dict[str, str]) -> None:
    diffs = version_differences(saved)
    if diffs:
        listed = ", ".join(f"{d} {a} → {b or 'not installed'}" for d, (a, b) in diffs.items())
        warnings.warn(
            f"{uri} was saved under other package versions ({listed}); predictions may "
            "differ. Re-train or pin those versions to be sure.",
            PackageVersionWarning,
            stacklevel=3,
        )
