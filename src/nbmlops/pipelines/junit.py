"""JUnit XML reports of notebook runs, for CI systems (GitHub Actions, GitLab, Jenkins).

One ``<testsuite>`` per notebook run, named after the notebook, with one ``<testcase>`` for
the execution itself (an ``<error>`` with the failing cell's traceback when a cell raised) and
one per gate (a ``<failure>`` when it did not pass). The run id, params and rolled-up metrics
are ``<properties>`` of the suite.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from .result import EXECUTION_FAILED, PipelineRun

# Characters XML 1.0 cannot hold (ANSI escapes in tracebacks, NUL …).
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _clean(text: object) -> str:
    return _INVALID_XML.sub("", _ANSI.sub("", str(text)))


def _suite(result: PipelineRun) -> ET.Element:
    name = result.notebook_name
    suite = ET.Element("testsuite", name=_clean(name))
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="run_id", value=result.run_id)
    ET.SubElement(props, "property", name="status", value=result.status)
    for key, value in result.params.items():
        ET.SubElement(props, "property", name=_clean(f"params.{key}"), value=_clean(repr(value)))
    for key, value in result.metrics.items():
        ET.SubElement(props, "property", name=_clean(f"metrics.{key}"), value=_clean(value))
    if result.output:
        ET.SubElement(props, "property", name="output", value=_clean(result.output))

    cases = 1
    failures = errors = 0
    execute = ET.SubElement(
        suite, "testcase", name="execute", classname=_clean(name), time=f"{result.duration_s:.3f}"
    )
    if result.outcome == EXECUTION_FAILED and result.error is not None:
        errors += 1
        err = result.error
        node = ET.SubElement(
            execute,
            "error",
            message=_clean(str(err).splitlines()[0] if str(err) else type(err).__name__),
            type=_clean(getattr(err, "ename", type(err).__name__)),
        )
        node.text = _clean(getattr(err, "traceback", "") or str(err))
    gates = result.gates
    if gates is not None:
        for row in gates.itertuples(index=False):
            cases += 1
            case = ET.SubElement(
                suite,
                "testcase",
                name=_clean(f"gate: {row.gate}"),
                classname=_clean(name),
                time="0",
            )
            if not bool(row.passed):
                failures += 1
                detail = f" ({row.detail})" if row.detail else ""
                message = f"{row.gate}: {_value(row.value)} vs {_value(row.threshold)}{detail}"
                node = ET.SubElement(case, "failure", message=_clean(message), type="GateFailed")
                node.text = _clean(message)
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", "0")
    suite.set("time", f"{result.duration_s:.3f}")
    return suite


def _value(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def junit_xml(results: PipelineRun | Iterable[PipelineRun], name: str = "nbmlops") -> str:
    """The JUnit XML document (as text) for one or more notebook runs."""
    if isinstance(results, PipelineRun):
        results = [results]
    root = ET.Element("testsuites", name=name)
    totals = {"tests": 0, "failures": 0, "errors": 0}
    elapsed = 0.0
    for result in results:
        suite = _suite(result)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
        elapsed += result.duration_s
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{elapsed:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(
    results: PipelineRun | Iterable[PipelineRun], path: str | os.PathLike, name: str = "nbmlops"
) -> Path:
    """Write the JUnit XML report of ``results`` to ``path``; return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(junit_xml(results, name), encoding="utf-8")
    return target


def write_junit_error(path: str | os.PathLike, notebook: str, message: str) -> Path:
    """A report for a notebook that could not even start (bad parameters, missing file …)."""
    name = Path(notebook).name
    root = ET.Element("testsuites", name="nbmlops", tests="1", failures="0", errors="1")
    suite = ET.SubElement(
        root, "testsuite", name=_clean(name), tests="1", failures="0", errors="1", skipped="0"
    )
    case = ET.SubElement(suite, "testcase", name="execute", classname=_clean(name), time="0")
    node = ET.SubElement(case, "error", message=_clean(message.splitlines()[0]), type="error")
    node.text = _clean(message)
    ET.indent(root)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n",
        encoding="utf-8",
    )
    return target
