"""IPython magics: ``%%track`` records a cell as a run; ``%runs`` shows the run table;
``%register`` and ``%models`` work with the model registry; ``%drift`` compares two frames;
``%monitor`` runs a saved monitor; ``%features`` lists and searches feature views.

``%load_ext nbmlops`` registers them. The tracked cell is executed in the user namespace with
IPython's own compiler and display hook (never a nested ``run_cell``, which would fire
``post_run_cell`` twice and print errors twice), so output, ``Out[]`` and tracebacks look as
they do without the magic.
"""

from __future__ import annotations

import ast
import inspect
import io
import shlex
import sys
import time
import tokenize

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from .errors import NbmlopsError, TrackedCellError
from .tracking import _active
from .tracking.capture import CellCapture, tee_output
from .tracking.cell import analyze
from .tracking.run import FAILED, FINISHED, KILLED, format_exception


def shell_words(line: str) -> list[str]:
    """Split a magic's argument line as a shell does: quotes group words and are removed
    (``--description 'RF depth 8'`` gives ``RF depth 8``). Backslashes are kept as typed, so
    Windows paths work; ``#`` is not a comment."""
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    lexer.escape = ""
    try:
        return list(lexer)
    except ValueError as exc:  # "No closing quotation"
        raise UsageError(f"cannot read the arguments {line!r}: {exc}; close the quote") from None


def parse_args(magic, line: str):
    """The arguments of ``magic`` (decorated with ``@magic_arguments``) from ``line``, split
    like a shell. IPython's own ``parse_argstring`` keeps the quotes in the values."""
    return magic.parser.parse_args(shell_words(line))


def _split_list(values: list[str] | None) -> list[str]:
    return [item.strip() for value in values or [] for item in value.split(",") if item.strip()]


def _joined(values: list[str] | None) -> str | None:
    """The words of a ``%runs`` option as one text; quotes around the whole text are removed,
    so ``-f "metrics.accuracy > 0.9"`` works as in a shell (a filter is never a lone string)."""
    if not values:
        return None
    text = " ".join(values)
    try:
        unquoted = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return unquoted if isinstance(unquoted, str) else text


def _parse_tags(values: list[str] | None) -> dict[str, str]:
    tags = {}
    for item in _split_list(values):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise NbmlopsError(
                f"--tags takes key=value pairs, got {item!r} (e.g. --tags team=risk)"
            )
        tags[key.strip()] = value.strip()
    return tags


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


def summary_line(
    run_id: str, name: str | None, status: str, seconds: float, capture: CellCapture | None
) -> str:
    """The one line shown under a tracked cell."""
    head = f"nbmlops ▸ run {run_id[:8]}" + (f" ({name})" if name else "")
    parts = [f"{head} {status} in {seconds:.2f}s"]
    if capture is not None:
        plain = {
            k: val
            for k, val in capture.recorded_params.items()
            if not any(k.startswith(f"{e}.") for e in capture.estimators)
        }
        if plain:
            parts.append("params " + ", ".join(f"{k}={_short(val)}" for k, val in plain.items()))
        if capture.estimators:
            parts.append(
                f"models {', '.join(capture.estimators)} "
                f"(+{capture.model_param_count} model params)"
            )
        if capture.recorded_metrics:
            parts.append(
                "metrics "
                + ", ".join(f"{k}={_short(val)}" for k, val in capture.recorded_metrics.items())
            )
        if capture.inputs or capture.outputs:
            parts.append(f"data in {len(capture.inputs)} / out {len(capture.outputs)}")
        if capture.figures:
            parts.append(f"figures {len(capture.figures)}")
    return " · ".join(parts)


@magics_class
class TrackingMagics(Magics):
    """``%%track`` and ``%runs``."""

    @magic_arguments()
    @argument("--name", "-n", default=None, help="Run name.")
    @argument(
        "--experiment",
        "-e",
        default=None,
        help="Experiment (default: NBMLOPS_EXPERIMENT or 'default').",
    )
    @argument(
        "--params",
        "-p",
        nargs="+",
        default=None,
        help="Variables to record as params whatever their value (a,b or a b).",
    )
    @argument(
        "--metrics",
        "-m",
        nargs="+",
        default=None,
        help="Variables to record as metrics (a,b or a b).",
    )
    @argument("--tags", "-t", nargs="+", default=None, help="Tags as key=value pairs.")
    @argument(
        "--no-auto",
        action="store_true",
        help="Record only --params/--metrics, the code and the environment.",
    )
    @argument("--quiet", "-q", action="store_true", help="Do not print the summary line.")
    @cell_magic
    def track(self, line: str, cell: str) -> None:
        """Run the cell and record it as an experiment run.

        Usage: ``%%track [--name N] [--experiment E] [--params a,b] [--metrics x,y]
        [--tags k=v ...] [--no-auto] [--quiet]``
        """
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame in tracebacks
        args = parse_args(self.track, line)
        shell = self.shell
        tags = _parse_tags(args.tags)
        _refuse_top_level_await(shell.transform_cell(cell))  # before a run is opened
        started = time.perf_counter()
        run = _active.start_run(name=args.name, experiment=args.experiment, tags=tags, code=cell)
        capture: CellCapture | None = None
        filename: str | None = None
        out = err = None
        try:
            transformed = shell.transform_cell(cell)
            filename = shell.compile.cache(transformed, shell.execution_count, raw_code=cell)
            tree = shell.compile.ast_parse(transformed, filename=filename)
            capture = CellCapture(
                analyze(tree),
                shell.user_ns,
                auto=not args.no_auto,
                params=_split_list(args.params),
                metrics=_split_list(args.metrics),
                hidden=shell.user_ns_hidden,
            )
            capture.before()
            with tee_output() as (out, err), capture.recording_shown_figures(shell, run):
                self._execute(tree, filename, quiet=_ends_with_semicolon(transformed))
        except BaseException as exc:
            status = KILLED if isinstance(exc, KeyboardInterrupt) else FAILED
            if capture is not None:
                capture.record_failure(run, out, err)
            self._finish(run, status, started, capture, format_exception(exc, filename), args.quiet)
            raise
        try:
            capture.record(run)
            capture.log_output_streams(run, out, err)
        except Exception as exc:  # noqa: BLE001 - recording must never lose the user's result
            capture.warnings.append(f"capture failed: {exc}")
        self._finish(run, FINISHED, started, capture, None, args.quiet)

    def _execute(self, tree: ast.Module, filename: str, quiet: bool = False) -> None:
        """Run the cell body like IPython does: the last expression is displayed (Out[]),
        unless the cell ends with ``;``."""
        __tracebackhide__ = True  # noqa: F841
        shell = self.shell
        body = list(tree.body)
        last = None
        interactive = shell.ast_node_interactivity != "none" and not quiet
        if body and isinstance(body[-1], ast.Expr) and interactive:
            last = body.pop()
        namespace = shell.user_ns
        globals_ = shell.user_global_ns
        if body:
            module = ast.Module(body=body, type_ignores=[])
            exec(shell.compile(module, filename, "exec"), globals_, namespace)  # noqa: S102
        if last is not None:
            interactive = ast.Interactive(body=[last])
            exec(shell.compile(interactive, filename, "single"), globals_, namespace)  # noqa: S102

    def _finish(
        self,
        run,
        status: str,
        started: float,
        capture: CellCapture | None,
        error: str | None,
        quiet: bool,
    ) -> None:
        try:
            run.end(status, error=error)
        except Exception as exc:  # noqa: BLE001 - the store failing must not hide the cell error
            print(f"nbmlops: could not record run {run.run_id[:8]}: {exc}", file=sys.stderr)
            return
        if quiet:
            return
        line = summary_line(
            run.run_id,
            self._run_name(run),
            status,
            time.perf_counter() - started,
            capture if status == FINISHED else None,
        )
        print(line, file=sys.stderr if status != FINISHED else sys.stdout)
        for warning in capture.warnings if capture else []:
            print(f"nbmlops: {warning}", file=sys.stderr)

    @staticmethod
    def _run_name(run) -> str | None:
        try:
            return run.name
        except NbmlopsError:
            return None

    @magic_arguments()
    @argument("--experiment", "-e", default=None, help="Only runs of this experiment.")
    @argument(
        "--filter",
        "-f",
        nargs="+",
        default=None,
        help='Filter, e.g. "metrics.accuracy > 0.9 and params.C == 0.5".',
    )
    @argument("--order-by", "-o", nargs="+", default=None, help='e.g. "metrics.accuracy DESC".')
    @argument("--limit", "-l", type=int, default=20, help="Rows to show (default 20; 0 = all).")
    @line_magic
    def runs(self, line: str = ""):
        """Show the runs table (newest first): ``%runs [-e EXP] [-f FILTER] [-o ORDER] [-l N]``.

        Returns the DataFrame of ``nbmlops.runs()``, displayed as the run table."""
        args = parse_argstring(self.runs, line)
        from .tracking import runs
        from .widgets.runs_frame import RunsFrame

        return RunsFrame(
            runs(
                experiment=args.experiment,
                filter=_joined(args.filter),
                order_by=_joined(args.order_by),
                limit=args.limit or None,
            )
        )


@magics_class
class RegistryMagics(Magics):
    """``%register`` and ``%models``."""

    @magic_arguments()
    @argument("variable", help="The notebook variable holding the fitted model.")
    @argument("--name", "-n", required=True, help="Registered model name, e.g. churn.")
    @argument("--description", "-d", nargs="+", default=None, help="What this version is.")
    @argument(
        "--input-example",
        "-x",
        default=None,
        help="Variable holding example input (DataFrame): gives the signature.",
    )
    @argument("--alias", "-a", default=None, help="Also point this free alias at the version.")
    @argument(
        "--stage",
        "-s",
        default=None,
        choices=["staging", "production"],
        help="Also promote the new version to this stage.",
    )
    @line_magic
    def register(self, line: str):
        """Register a fitted model from the notebook: ``%register model --name churn``.

        The run that fitted it (a ``%%track`` cell) is found automatically.
        """
        args = parse_args(self.register, line)
        from . import registry

        ns = self.shell.user_ns
        if args.variable not in ns:
            raise NbmlopsError(
                f"%register: no variable named {args.variable!r} in the notebook; "
                "give the name of the fitted model, e.g. %register model --name churn"
            )
        example = None
        if args.input_example is not None:
            if args.input_example not in ns:
                raise NbmlopsError(f"%register: no variable named {args.input_example!r}")
            example = ns[args.input_example]
        mv = registry.register_model(
            ns[args.variable],
            args.name,
            description=" ".join(args.description) if args.description else None,
            input_example=example,
        )
        if args.alias:
            registry.set_alias(mv.name, args.alias, mv.version)
        if args.stage:
            done = registry.promote(mv.name, mv.version, to=args.stage, reason="%register --stage")
            if isinstance(done, registry.PromotionRequest):  # the model's policy asks approval
                print(f"nbmlops ▸ {done!r}")
        run = f" from run {mv.run_id[:8]}" if mv.run_id else ""
        print(f"nbmlops ▸ registered {mv.uri}{run} ({mv.flavor})")
        return mv

    @magic_arguments()
    @argument("name", nargs="?", default=None, help="Show the versions of this model.")
    @argument("--history", action="store_true", help="Show the model's transition history.")
    @line_magic
    def models(self, line: str = ""):
        """``%models`` lists registered models; ``%models NAME`` its versions;
        ``%models NAME --history`` its transitions."""
        args = parse_args(self.models, line)
        from . import registry

        if args.name is None:
            return registry.models()
        if args.history:
            return registry.model_history(args.name)
        return registry.model_versions(args.name)


@magics_class
class ServingMagics(Magics):
    """``%rollout``."""

    @magic_arguments()
    @argument("name", help="Model name (or rollout id for actions).")
    @argument("--candidate", type=int, default=None, help="Start rolling out this version.")
    @argument("--mode", default="canary", choices=["shadow", "canary", "ab"])
    @argument("--steps", nargs="+", type=float, default=None, help="Percent per step.")
    @argument("--every", default="30m", help="Duration of each step (30m, 10s).")
    @argument("--key", default=None, help="Request column making the split sticky.")
    @argument("--guard", action="append", default=None, help="e.g. 'error_rate < 0.01'.")
    @argument("--min-requests", type=int, default=100)
    @argument("--advance", action="store_true", help="Move to the next step now.")
    @argument("--pause", action="store_true", help="Hold the current split.")
    @argument("--resume", action="store_true", help="Let a paused rollout advance.")
    @argument("--abort", action="store_true", help="All traffic back to the champion.")
    @line_magic
    def rollout(self, line: str):
        """``%rollout NAME --candidate 4 --mode canary --steps 5 20 100 --guard "..."`` starts
        a rollout; ``%rollout NAME`` shows it; ``--advance``, ``--pause``, ``--resume``,
        ``--abort`` act on it."""
        args = parse_args(self.rollout, line)
        from . import serving

        if args.candidate is not None:
            return serving.rollout(
                args.name,
                args.candidate,
                mode=args.mode,
                steps=args.steps,
                every=args.every,
                key=args.key,
                guards=args.guard,
                min_requests=args.min_requests,
            )
        current = serving.get_rollout(args.name)
        for action in ("advance", "pause", "resume", "abort"):
            if getattr(args, action):
                getattr(current, action)()
        return current


@magics_class
class MonitoringMagics(Magics):
    """``%drift``."""

    @magic_arguments()
    @argument("reference", help="Reference DataFrame variable (or a .csv/.parquet path).")
    @argument("current", help="Current DataFrame variable (or a .csv/.parquet path).")
    @argument("--target", "-y", default=None, help="Target column.")
    @argument("--prediction", "-p", default=None, help="Prediction column.")
    @argument("--segments", "-s", nargs="+", default=None, help="Segment columns (a,b or a b).")
    @argument("--columns", "-c", nargs="+", default=None, help="Only these columns.")
    @argument("--html", default=None, help="Also write the standalone HTML report here.")
    @argument("--save", default=None, help="Save the report in the workspace under this name.")
    @line_magic
    def drift(self, line: str):
        """Drift report of two DataFrames: ``%drift REF CUR [--target y] [--prediction p]
        [--segments country] [--html out.html] [--save NAME]``."""
        args = parse_args(self.drift, line)
        from .monitoring import drift_report
        from .monitoring.io import read_frame

        frames = []
        for name in (args.reference, args.current):
            if name in self.shell.user_ns:
                frames.append(self.shell.user_ns[name])
            elif name.endswith((".csv", ".parquet", ".pq")):
                frames.append(read_frame(name))
            else:
                raise NbmlopsError(
                    f"%drift: {name!r} is neither a notebook variable nor a .csv/.parquet file"
                )
        report = drift_report(
            frames[0],
            frames[1],
            target=args.target,
            prediction=args.prediction,
            columns=_split_list(args.columns) or None,
            segments=_split_list(args.segments) or None,
        )
        if args.html:
            report.to_html(args.html)
        if args.save:
            report.save(name=args.save)
        return report


@magics_class
class MonitorMagics(Magics):
    """``%monitor``."""

    @magic_arguments()
    @argument("name", nargs="?", default=None, help="The monitor to run (none: list them).")
    @argument("--at", default=None, help="End of the window (default: now).")
    @argument("--history", action="store_true", help="Show the monitor's history instead.")
    @argument("--timeline", action="store_true", help="Plot the monitor's timeline instead.")
    @argument("--no-retrain", action="store_true", help="Do not retrain on alert.")
    @line_magic
    def monitor(self, line: str = ""):
        """``%monitor NAME [--at TIME]`` checks a window and shows what it found;
        ``--history`` / ``--timeline`` show earlier runs; ``%monitor`` lists the monitors."""
        args = parse_args(self.monitor, line)
        from . import monitoring

        if args.name is None:
            return monitoring.monitors()
        saved = monitoring.get_monitor(args.name)
        if args.history:
            return saved.history()
        if args.timeline:
            return saved.timeline()
        return saved.run(at=args.at, retrain=not args.no_retrain)


@magics_class
class GateMagics(Magics):
    """``%%nbmlops_gate``: the form ``nbmlops.run_notebook`` gives cells tagged ``nbmlops:gate``."""

    @magic_arguments()
    @argument("--cell", type=int, default=None, help="Index of the cell in the source notebook.")
    @cell_magic
    def nbmlops_gate(self, line: str, cell: str) -> None:
        """Run the cell's statements one by one; failing asserts are recorded as gate failures
        (see ``nbmlops.pipelines._gatecell``)."""
        __tracebackhide__ = True  # noqa: F841
        from .pipelines._gatecell import run_gate_cell

        args = parse_args(self.nbmlops_gate, line)
        run_gate_cell(self.shell, cell, args.cell)


@magics_class
class WidgetMagics(Magics):
    """``%nbmlops panel`` and ``%compare``."""

    @magic_arguments()
    @argument("command", help="What to show: panel.")
    @argument("--experiment", "-e", default=None, help="Open the Runs tab on this experiment.")
    @argument("--page-size", type=int, default=25, help="Runs per page (default 25).")
    @line_magic
    def nbmlops(self, line: str = ""):
        """``%nbmlops panel [-e EXPERIMENT] [--page-size N]``: the nbmlops app (runs, compare,
        models, features, reports); it refreshes itself after each ``%%track`` cell."""
        args = parse_args(self.nbmlops, line)
        if args.command != "panel":
            raise NbmlopsError(f"%nbmlops: unknown command {args.command!r}; try %nbmlops panel")
        from .widgets import Panel

        return Panel(experiment=args.experiment, page_size=args.page_size).watch(self.shell)

    @magic_arguments()
    @argument("runs", nargs="+", help="Two or more run ids (unique prefixes work).")
    @line_magic
    def compare(self, line: str = ""):
        """``%compare RUN1 RUN2 …``: params, metrics, curves, code, environment and data of
        the runs side by side, differences highlighted."""
        args = parse_args(self.compare, line)
        from .widgets import compare

        return compare(*_split_list(args.runs))


@magics_class
class FeatureMagics(Magics):
    """``%features``."""

    @magic_arguments()
    @argument("search", nargs="*", help="Only views (or fields) matching this text.")
    @argument("--fields", "-f", action="store_true", help="One row per field.")
    @argument("--versions", "-v", default=None, help="Every version of this view.")
    @line_magic
    def features(self, line: str = ""):
        """``%features`` lists the feature views of the workspace; ``%features TEXT`` searches
        names, descriptions, tags and owners; ``--fields`` lists fields; ``--versions NAME``
        the versions of a view."""
        args = parse_args(self.features, line)
        from . import features

        if args.versions:
            return features.versions(args.versions)
        return features.catalog(" ".join(args.search) or None, fields=args.fields)


AWAIT_HELP = """\
%%track cannot run a cell with top-level `await`: the tracked cell runs synchronously, inside \
the event loop that IPython's autoawait needs. Open the run yourself in a cell without \
%%track, where `await` works:

    with nbmlops.start_run(name="fetch"):
        data = await fetch()
        nbmlops.log_metric("rows", len(data))

or await in a cell of its own and track the cell that uses the result."""


def _refuse_top_level_await(source: str) -> None:
    """Raise :class:`~nbmlops.errors.TrackedCellError` for a cell with top-level ``await``
    (``async for``/``async with``), instead of a SyntaxError from nbmlops' own code."""
    __tracebackhide__ = True  # noqa: F841 - the message is what matters, not this frame
    try:
        code = compile(
            source,
            "<tracked cell>",
            "exec",
            flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
            dont_inherit=True,
        )
    except (SyntaxError, ValueError):
        return  # a real syntax error: reported as usual when the cell runs
    if code.co_flags & inspect.CO_COROUTINE:
        raise TrackedCellError(AWAIT_HELP)


def _ends_with_semicolon(source: str) -> bool:
    """True when the last token of ``source`` (comments aside) is ``;``, as IPython checks."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return False
    skip = (tokenize.ENDMARKER, tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT)
    for token in reversed(tokens):
        if token.type in skip:
            continue
        return token.type == tokenize.OP and token.string == ";"
    return False


def load_ipython_extension(ipython) -> None:
    """Register the nbmlops magics with ``ipython``."""
    from .tracking.environment import start_reading_environment

    start_reading_environment()  # the package list, read while the user works
    ipython.register_magics(TrackingMagics)
    ipython.register_magics(RegistryMagics)
    ipython.register_magics(MonitoringMagics)
    ipython.register_magics(ServingMagics)
    ipython.register_magics(MonitorMagics)
    ipython.register_magics(FeatureMagics)
    ipython.register_magics(GateMagics)
    ipython.register_magics(WidgetMagics)


__all__ = [
    "FeatureMagics",
    "GateMagics",
    "MonitorMagics",
    "MonitoringMagics",
    "RegistryMagics",
    "TrackingMagics",
    "WidgetMagics",
    "load_ipython_extension",
    "summary_line",
]
