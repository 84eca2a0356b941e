"""Every error nbmlops raises on purpose.

All derive from :class:`NbmlopsError`; most also derive from the built-in they resemble, so
``except ValueError`` or ``except KeyError`` keeps working. Messages say what to do next.
"""

from __future__ import annotations


class NbmlopsError(Exception):
    """Base class of every nbmlops error."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else self.__class__.__name__


class InvalidArgumentType(NbmlopsError, TypeError):
    """An argument has the wrong type (``start_run(tags="k=v")``): ``.argument`` names it,
    ``.expected`` says what it takes, ``.value`` is what was given."""

    def __init__(self, argument: str, expected: str, value: object):
        self.argument = argument
        self.expected = expected
        self.value = value
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:60] + "…"
        super().__init__(f"{argument} takes {expected}, got {type(value).__name__} {shown}")


class InvalidArgument(NbmlopsError, ValueError):
    """An argument has the right type but a value nbmlops cannot use (a path with a NUL
    character, a number out of range); ``.argument`` names it."""

    def __init__(self, argument: str, message: str):
        self.argument = argument
        super().__init__(f"{argument}: {message}")


class ConfigError(NbmlopsError, ValueError):
    """A setting (environment variable or ``configure`` argument) is invalid."""


class StoreError(NbmlopsError):
    """The metadata store cannot be opened or used."""


class SchemaVersionError(StoreError):
    """The store was written by a newer nbmlops than the one running."""


class StoreFull(StoreError, OSError):
    """The disk (or database server) holding the store has no space left; nothing was written.

    Also an ``OSError`` (``errno`` is ``ENOSPC``), so ``except OSError`` keeps working.
    """

    def __init__(self, message: str):
        super().__init__(message)
        import errno

        self.errno = errno.ENOSPC


class StoreCorrupted(StoreError):
    """The metadata database file is damaged (not a database, or a malformed page)."""


class StoreUnavailable(StoreError):
    """The metadata store did not answer: the server is unreachable, or a connect, statement
    or lock timeout expired."""


class ConcurrentUpdate(NbmlopsError, RuntimeError):
    """Other processes kept changing what this call depends on until its retries ran out;
    nothing was changed. Calling again usually succeeds."""


class RunNotFound(NbmlopsError, KeyError):
    """No run matches the given id or id prefix."""

    def __init__(self, run_id: str, message: str | None = None):
        self.run_id = run_id
        super().__init__(
            message
            or f"no run with id {run_id!r}; list run ids with nbmlops.runs() or `nbmlops runs ls`"
        )


class AmbiguousRunId(RunNotFound):
    """An id prefix matches more than one run."""

    def __init__(self, run_id: str, matches: list[str]):
        self.matches = matches
        shown = ", ".join(matches[:5])
        super().__init__(
            run_id,
            f"run id prefix {run_id!r} matches {len(matches)} runs ({shown}); "
            "give more characters of the id",
        )


class NoActiveRun(NbmlopsError, RuntimeError):
    """A logging call was made with no run open."""

    def __init__(self, what: str = "log"):
        super().__init__(
            f"cannot {what}: no run is active; wrap the code in `with nbmlops.start_run():` "
            "or use the %%track cell magic"
        )


class InvalidKey(NbmlopsError, ValueError):
    """A param, metric, tag or input name is empty, too long or has forbidden characters."""

    def __init__(self, kind: str, key: object, reason: str):
        self.kind = kind
        self.key = key
        super().__init__(f"invalid {kind} name {key!r}: {reason}")


class InvalidMetric(NbmlopsError, ValueError):
    """A metric value is not a real number, or its step/timestamp is invalid."""

    def __init__(self, key: str, value: object, reason: str):
        self.key = key
        self.value = value
        super().__init__(f"invalid metric {key!r} = {value!r}: {reason}")


class InvalidParam(NbmlopsError, ValueError):
    """A param or tag value cannot be stored."""

    def __init__(self, key: str, value: object, reason: str):
        self.key = key
        self.value = value
        super().__init__(f"invalid param {key!r} = {value!r:.80}: {reason}")


class InvalidArtifactName(NbmlopsError, ValueError):
    """An artifact name is absolute, empty or escapes its run with ``..``."""

    def __init__(self, name: object, reason: str):
        self.name = name
        super().__init__(
            f"invalid artifact name {name!r}: {reason}; use a relative path such as 'plots/roc.png'"
        )


class ArtifactNotFound(NbmlopsError, FileNotFoundError):
    """A run has no artifact with that name, or its content is missing from the store."""


class IntegrityError(NbmlopsError):
    """Stored content does not match its recorded sha256: it was changed or corrupted."""

    def __init__(self, name: str, expected: str, actual: str):
        self.name = name
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"artifact {name!r} failed its integrity check: expected sha256 {expected}, "
            f"found {actual}. The stored file was modified or corrupted; do not trust it. "
            "Re-log the artifact from its source."
        )


class TrackedCellError(NbmlopsError, ValueError):
    """A cell that ``%%track`` cannot run as written (e.g. one with top-level ``await``);
    the message says how to write it."""


class InvalidFilter(NbmlopsError, ValueError):
    """A run filter or order-by string cannot be understood."""


class ExperimentNotFound(NbmlopsError, KeyError):
    """No experiment has that name."""


class CompareError(NbmlopsError, ValueError):
    """Runs cannot be compared as asked (fewer than two runs, a metric none of them logged)."""


# -- model registry ---------------------------------------------------------------------------


class InvalidModel(NbmlopsError, ValueError):
    """What was given cannot be registered: not fitted, not a model, or a bad name/alias."""


class ModelNotFound(NbmlopsError, KeyError):
    """No registered model, version or alias matches."""


class InvalidTransition(NbmlopsError, ValueError):
    """A promotion, rollback or alias change that would break the registry's rules."""


class ApprovalError(InvalidTransition):
    """A decision on a promotion request that its policy does not allow (the requester
    approving under four eyes, a second approval by one person, a closed request)."""


class RequestExpired(ApprovalError):
    """The request's candidate or the production version changed since it was made: ask again
    with ``nbmlops.promote``."""


class RequestNotFound(NbmlopsError, KeyError):
    """No promotion request with that id."""


class UntrustedModelError(NbmlopsError):
    """Loading the model could run code that nbmlops cannot vouch for."""

    def __init__(self, uri: str, reason: str, types: list[str] | None = None):
        self.uri = uri
        self.types = list(types or [])
        super().__init__(
            f"refusing to load {uri}: {reason}. If you trust where this model came from, load it "
            f"with trusted=True (e.g. nbmlops.load_model({uri!r}, trusted=True))"
        )


class SchemaViolation(NbmlopsError, ValueError):
    """Data does not match the schema a model (or expectation) was built for."""

    def __init__(
        self,
        message: str,
        missing: list[str] | None = None,
        mistyped: dict[str, tuple[str, str]] | None = None,
        unknown_categories: dict[str, list] | None = None,
    ):
        self.missing = list(missing or [])
        self.mistyped = dict(mistyped or {})
        self.unknown_categories = dict(unknown_categories or {})
        super().__init__(message)


class GateFailed(NbmlopsError):
    """A quality gate did not pass; nothing was changed.

    ``table`` is a pandas DataFrame with one row per gate: ``gate, value, threshold, passed``.
    """

    def __init__(
        self, subject: str, table, message: str | None = None, outcome: str = "nothing was changed"
    ):
        self.subject = subject
        self.table = table
        lines = []
        for row in table.itertuples(index=False):
            mark = "PASS" if row.passed else "FAIL"
            detail = row.detail if getattr(row, "detail", None) else ""
            lines.append(
                f"  [{mark}] {row.gate}: {_fmt(row.value)} vs {_fmt(row.threshold)}"
                + (f" ({detail})" if detail else "")
            )
        failed = int((~table["passed"].astype(bool)).sum())
        super().__init__(
            message
            or f"{subject}: {failed} of {len(table)} gates failed, {outcome}\n" + "\n".join(lines)
        )

    def __reduce__(self):  # picklable, so worker processes can send it back
        return (self.__class__, (self.subject, self.table, str(self)), self.__dict__)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


# -- monitoring -------------------------------------------------------------------------------


class MonitoringError(NbmlopsError, ValueError):
    """A drift report or data validation cannot be computed from what was given."""


class PredictionLogError(MonitoringError):
    """Predictions or labels cannot be logged or read as given (a reserved column name, ids
    that do not match the rows, an unknown model in the log)."""


class MonitorNotFound(MonitoringError, KeyError):
    """No saved monitor has this name."""

    def __init__(self, name: str, known: list[str]):
        self.name = name
        listed = ", ".join(known) or "none yet"
        super().__init__(
            f"no monitor named {name!r} (saved: {listed}); create it with "
            f"nbmlops.monitor(model_name, name={name!r}, ...)"
        )


class InvalidCheck(MonitoringError):
    """A monitor check is not one of the forms it understands."""

    def __init__(self, check: object, reason: str):
        self.check = check
        super().__init__(
            f"cannot read monitor check {check!r}: {reason}. Write e.g. 'psi > 0.25 on income', "
            "'drift_share >= 0.5 for 2 windows', 'f1 < 0.8' or 'f1 drops by more than 0.05'"
        )


class RetrainError(MonitoringError):
    """Retraining after an alert could not produce a challenger to compare."""


# -- feature store ----------------------------------------------------------------------------


class FeatureError(NbmlopsError, ValueError):
    """A feature view, feature reference or feature store operation is invalid."""


class FeatureViewNotFound(FeatureError, KeyError):
    """No feature view (or version of it) has the given name."""

    def __init__(self, name: str, message: str | None = None):
        self.name = name
        super().__init__(
            message
            or f"no feature view named {name!r}; register it with nbmlops.features.apply(view) "
            "and list views with nbmlops.features.catalog()"
        )


class FeatureNameCollision(FeatureError):
    """Two requested features (or a feature and an entity column) would get the same column."""

    def __init__(self, names: dict[str, list[str]]):
        self.names = dict(names)
        shown = "; ".join(f"{col!r} from {', '.join(refs)}" for col, refs in self.names.items())
        super().__init__(
            f"feature names collide: {shown}. Pass full_feature_names=True to name the columns "
            "view__field, or request only one of them"
        )


class FeatureSchemaViolation(SchemaViolation):
    """Feature rows do not match their view's declared fields; nothing was written.

    ``counts`` is a DataFrame with one row per broken rule (``column, rule, count``) and
    ``examples`` a DataFrame of up to five offending rows per rule (with ``column`` and ``rule``).
    """

    def __init__(self, view: str, counts, examples):
        self.view = view
        self.counts = counts
        self.examples = examples
        lines = [f"  {r.column}: {r.rule} in {r.count} row(s)" for r in counts.itertuples()]
        super().__init__(
            f"feature rows for view {view!r} break its schema, nothing was written:\n"
            + "\n".join(lines)
            + "\nSee .counts and .examples of this error; fix the rows (or the Field "
            "declarations) and write again",
            mistyped={r.column: (r.rule, "") for r in counts.itertuples() if r.rule == "dtype"},
            missing=[r.column for r in counts.itertuples() if r.rule == "missing column"],
        )


class OnlineStoreError(FeatureError):
    """The online store cannot be opened or holds nothing for the requested view."""


# -- pipelines of notebooks -------------------------------------------------------------------


class PipelineError(NbmlopsError, ValueError):
    """A ``pipeline.yaml`` is invalid, or a pipeline cannot run as declared.

    ``path`` is the pipeline file (when known) and ``step`` the step at fault (when one is).
    """

    def __init__(self, message: str, path: str | None = None, step: str | None = None):
        self.path = path
        self.step = step
        super().__init__(message)


class PipelineCycle(PipelineError):
    """The ``needs`` of a pipeline's steps form a cycle; ``cycle`` lists it, first step last too."""

    def __init__(self, cycle: list[str], path: str | None = None):
        self.cycle = list(cycle)
        chain = " needs ".join(repr(step) for step in self.cycle)
        super().__init__(
            f"{path or 'pipeline'}: the steps' needs form a cycle: {chain}; "
            "remove one of these needs so every step can start after the steps it needs",
            path=path,
            step=self.cycle[0] if self.cycle else None,
        )


class PipelineFailed(NbmlopsError, RuntimeError):
    """One or more steps of a pipeline (or runs of a sweep) failed.

    ``result`` is the :class:`~nbmlops.pipelines.PipelineResult`; ``gate_failed`` is true when
    every failure was a quality gate (the CLI then exits 2 rather than 1).
    """

    def __init__(self, result, message: str, gate_failed: bool = False):
        self.result = result
        self.gate_failed = gate_failed
        super().__init__(message)


# -- notebook runs ----------------------------------------------------------------------------


class InvalidGate(NbmlopsError, ValueError):
    """A quality gate string cannot be read (``"metrics.f1 >= 0.85"`` is the form)."""


class InvalidNotebook(NbmlopsError, ValueError):
    """A notebook cannot be run as asked: missing file, unreadable JSON, bad parameters."""

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        super().__init__(message)


class InvalidParameters(InvalidNotebook):
    """Parameters were passed that the notebook cannot take.

    ``unknown`` lists the names its ``parameters`` cell does not define (all of them when the
    notebook has no such cell); ``known`` the names it does define.
    """

    def __init__(self, message: str, path: str, unknown: list[str], known: list[str]):
        self.unknown = list(unknown)
        self.known = list(known)
        super().__init__(message, path)


class NotebookFailed(NbmlopsError, RuntimeError):
    """A cell of an executed notebook raised; the run is FAILED and the executed notebook kept.

    ``cell_index`` is the index of the failing cell in the source notebook (``None`` when the
    cell was injected by papermill), ``executed_index`` its index in the executed notebook,
    ``ename``/``evalue`` the exception's type and message, ``output`` the executed notebook
    and ``run_id`` the FAILED run.
    """

    def __init__(
        self,
        notebook: str,
        cell_index: int | None,
        executed_index: int | None,
        ename: str,
        evalue: str,
        output: str | None,
        run_id: str | None,
        traceback: str = "",
        cell_source: str = "",
    ):
        self.notebook = notebook
        self.cell_index = cell_index
        self.executed_index = executed_index
        self.ename = ename
        self.evalue = evalue
        self.output = output
        self.run_id = run_id
        self.traceback = traceback
        self.cell_source = cell_source
        self._args = (notebook, cell_index, executed_index, ename, evalue, output, run_id)
        where = f"cell {cell_index}" if cell_index is not None else "an injected cell"
        first = next((line for line in cell_source.splitlines() if line.strip()), "")
        shown = f" ({first.strip()[:60]!r})" if first else ""
        super().__init__(
            f"{notebook}: {where}{shown} raised {ename}: {evalue}. "
            + (f"The executed notebook with the traceback is {output}; " if output else "")
            + (
                f"the run {run_id[:8]} is FAILED (nbmlops.get_run({run_id[:8]!r}).error)."
                if run_id
                else ""
            )
        )

    def __reduce__(self):  # picklable, so worker processes can send it back
        return (self.__class__, self._args, self.__dict__)


class NotReproducible(NbmlopsError, ValueError):
    """A run cannot be re-executed: it has no recorded notebook and no tracked cell code."""

    def __init__(self, run_id: str, message: str):
        self.run_id = run_id
        super().__init__(message)


# -- out-of-core data --------------------------------------------------------------------------


class DataSourceError(NbmlopsError, ValueError):
    """Data given by path, URL, relation or dataset could not be read or aggregated."""


class UnsupportedData(DataSourceError, TypeError):
    """The object given as data is none of the accepted kinds."""

    def __init__(self, argument: str, value: object, engine: str | None = None):
        self.argument = argument
        self.kind = type(value).__name__
        where = f" on engine {engine!r}" if engine else ""
        super().__init__(
            f"{argument} got a {self.kind}{where}; give a pandas DataFrame, a Parquet or CSV "
            "path or fsspec URL (file, folder or glob), a DuckDB relation, a pyarrow Dataset "
            "or a Dask DataFrame (a Dask DataFrame needs engine='dask', a DuckDB relation "
            "engine='duckdb')"
        )


class MlflowUnavailable(NbmlopsError, ImportError):
    """Moving runs to or from MLflow needs mlflow, which is not installed."""


# -- serving ----------------------------------------------------------------------------------


class ServingError(NbmlopsError, ValueError):
    """A model server or rollout cannot be set up as asked (an unknown option, a public
    address without a token, a rollout that conflicts with one already running)."""


class InvalidRequest(ServingError):
    """A request to a model server cannot be scored as sent; ``status`` is the HTTP status
    returned (400, 404, 413, 415) and ``column`` the offending column, when there is one."""

    def __init__(self, message: str, status: int = 400, column: str | None = None):
        self.status = status
        self.column = column
        super().__init__(message)


class RolloutNotFound(ServingError, KeyError):
    """No rollout matches: the model has none running, or the id is unknown."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class MlflowStoreError(NbmlopsError, RuntimeError):
    """The MLflow tracking store of a migration cannot be read or written."""
