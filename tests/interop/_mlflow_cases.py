"""The runs of MLflow's own search tests, made in a real MLflow sqlite store by MLflow's client.

One experiment per MLflow test (or per state of one test), holding the runs that test makes:
tests/utils/test_search_utils.py (experiments ``u-*``) and the SQLAlchemy store's search tests,
tests/store/tracking/sqlalchemy_store/test_sqlalchemy_store_runs.py (``sa-*``). Where MLflow's
test leaves a run RUNNING, it ends here FINISHED: nbmlops imports ended runs only.
"""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path

NONE = object()  # no value logged


def build_case_store(folder: Path) -> dict:
    """Create the store; return its URI and the run ids per experiment, in creation order."""
    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param

    warnings.filterwarnings("ignore", category=FutureWarning)
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "cases.db"
    uri = f"sqlite:///{db}"
    client = MlflowClient(tracking_uri=uri)
    ids: dict[str, list[str]] = {}

    names: dict[str, str] = {}

    def experiment(name: str) -> str:
        ids[name] = []
        exp_id = client.create_experiment(name, artifact_location=(folder / name).as_uri())
        names[exp_id] = name
        return exp_id

    def run(
        exp,
        name="name",
        start=0,
        status="FINISHED",
        end=NONE,
        params=None,
        metrics=(),
        tags=None,
        inputs=(),
    ):
        r = client.create_run(exp, start_time=start, run_name=name, tags=tags or {})
        rid = r.info.run_id
        client.log_batch(
            rid,
            params=[Param(k, val) for k, val in (params or {}).items()],
            metrics=[
                Metric(m[0], m[1], m[2] if len(m) > 2 else 1, m[3] if len(m) > 3 else 0)
                for m in metrics
            ],
        )
        if inputs:
            client.log_inputs(rid, inputs)
        client.set_terminated(rid, status, end_time=start + 1 if end is NONE else end)
        ids[names[exp]].append(rid)
        return rid

    def dataset(name, digest, context=None, other_tags=()):
        tags = [InputTag("mlflow.data.context", context)] if context else []
        tags += [InputTag(k, val) for k, val in other_tags]
        return DatasetInput(Dataset(name, digest, "my_source_type", "source"), tags)

    # -- tests/utils/test_search_utils.py ---------------------------------------------------
    e = experiment("u-filter")  # test_correct_filtering, the error cases
    run(e, "r0", 0, "FAILED", params={"my_param": "A"}, metrics=[("key1", 121)],
        inputs=[dataset("name1", "digest1", "train")])  # fmt: skip
    run(e, "r1", 0, params={"my_param": "A"}, metrics=[("key1", 123)], tags={"tag1": "C"},
        inputs=[dataset("name1", "digest1")])  # fmt: skip
    run(e, "r2", 0, "FAILED", params={"my_param": "B"}, metrics=[("key1", 125)],
        tags={"tag1": "D"}, inputs=[dataset("name2", "digest2")])  # fmt: skip

    e = experiment("u-parse")  # test_filter, test_correct_quote_trimming: keys to find
    run(
        e, "p0", 1000,
        params={"m": "tf", "cat dog": "pets", "model": "LinearRegression", "model_class": "LR",
                "p.a.r.a.m": "a", "lr": "0.01", "b": "val"},
        metrics=[("acc", 0.95), ("legit name", 0.3), ("XYZ", 3), ("X-Y-Z", 3), ("rmse", 0.5), ("a", 0.2), ("accuracy.2.0", 6),
                 ("spacey name", 6), ("Mean Square Error", 1.5)],
        tags={"version": "commit-hash", "source_name": "a notebook", "t.a.g": "a"},
    )  # fmt: skip
    run(
        e, "p1", 2000, "FAILED",
        params={"m": "LR", "cat dog": "cats", "model": "LR", "model_class": "LR",
                "p.a.r.a.m": "b", "b": "val"},
        metrics=[("acc", 100), ("legit name", 0.1), ("XYZ", 4), ("X-Y-Z", 2), ("rmse", 2),
                 ("a", 0.05), ("accuracy.2.0", 4), ("spacey name", 5),
                 ("Mean Square Error", 2.5)],
        tags={"version": "other", "t.a.g": "b", "a": "x"},
    )  # fmt: skip
    run(e, "p2", 3000, "KILLED", params={"m": "L'Hosp", "model": "SVC"},
        metrics=[("acc", 0.5)], tags={"source_name": "a notebook"})  # fmt: skip

    e = experiment("u-sort")  # test_correct_sorting
    run(e, "s0", 0, "FAILED", params={"my_param": "A"}, metrics=[("key1", 121)])
    run(e, "s1", 1, params={"my_param": "A"}, metrics=[("key1", 123)], tags={"tag1": "C"})
    run(e, "s2", 1, "FAILED", params={"my_param": "B"}, metrics=[("key1", 125)],
        tags={"tag1": "D"})  # fmt: skip

    e = experiment("u-times")  # test_filter_runs_by_start_time / _by_end_time
    for idx, name in enumerate("abc"):
        run(e, name, idx, end=idx)

    e = experiment("u-isnull")  # test_filter_runs_by_tag_and_param_is_null
    run(e, "run1", 0, tags={"env": "prod"})
    run(e, "run2", 0, params={"lr": "0.01"})

    e = experiment("u-like")  # test_like_pattern_with_plus_character, on run names
    run(e, "jamie-foo C+W bar", 0)
    run(e, "jamie-foo CW bar", 1)

    # -- tests/store/tracking/sqlalchemy_store/test_sqlalchemy_store_runs.py ----------------
    e = experiment("sa-order-metric")  # test_order_by_metric_tag_param (+ utils' nan order)
    for x, y in zip(
        [None, "nan", "inf", "-inf", "-1000", "0", "0", "1000"], "12345678", strict=True
    ):
        metrics = [] if x is None else [("x", float(x)), ("y", float(y))]
        run(e, f"{x}/{y}", 123, params={"metric": y}, metrics=metrics, tags={"metric": y})

    e = experiment("sa-order-attrs")  # test_order_by_attributes (without its end-less run)
    for start, end in [(123, 234), (125, 456), (126, -123), (127, 789), (128, 123)]:
        run(e, str(end), start, end=end)

    e = experiment("sa-params")  # test_search_params
    run(e, "r1", 1000, params={"generic_param": "p_val", "generic_2": "some value", "p_a": "abc"})
    run(e, "r2", 2000,
        params={"generic_param": "p_val", "generic_2": "another value", "p_b": "ABC"})  # fmt: skip

    e = experiment("sa-tags")  # test_search_tags
    run(e, "r1", 1000, tags={"generic_tag": "p_val", "generic_2": "some value", "p_a": "abc"})
    run(e, "r2", 2000, tags={"generic_tag": "p_val", "generic_2": "another value", "p_b": "ABC"})

    e = experiment("sa-metrics")  # test_search_metrics: the latest value counts
    run(e, "r1", 1000, metrics=[("common", 1.0, 1), ("measure_a", 1.0, 1), ("m_a", 2.0, 2)])
    run(e, "r2", 2000,
        metrics=[("common", 1.0, 1), ("measure_a", 200.0, 2), ("measure_a", 400.0, 3),
                 ("m_b", 3.0, 2), ("m_b", 4.0, 8), ("m_b", 8.0, 3)])  # fmt: skip

    e = experiment("sa-attrs-before")  # test_search_attrs, both runs alike
    run(e, "r1", 1000)
    run(e, "r2", 2000)
    e = experiment("sa-attrs")  # test_search_attrs, after r2 failed
    run(e, "r1", 1000)
    run(e, "r2", 2000, "FAILED", end=300)

    e = experiment("sa-full")  # test_search_full
    run(e, "r1", 1000, params={"generic_param": "p_val", "p_a": "abc"},
        metrics=[("common", 1.0, 1), ("m_a", 2.0, 2)])  # fmt: skip
    run(e, "r2", 2000, params={"generic_param": "p_val", "p_b": "ABC"},
        metrics=[("common", 1.0, 1), ("m_b", 3.0, 2), ("m_b", 4.0, 8), ("m_b", 8.0, 3)])  # fmt: skip

    e = experiment("sa-max")  # test_search_with_max_results, 12 runs instead of 1200
    for i in range(12):
        run(e, "name", i)
    e = experiment("sa-ties")  # test_search_with_deterministic_max_results, _pagination
    for _ in range(10):
        run(e, "name", 10)
    e = experiment("sa-ties8")  # test_search_runs_pagination_last_page_exact
    for _ in range(8):
        run(e, "name", 10)

    for state in ("before", "after"):  # test_search_runs_run_name
        e = experiment(f"sa-run-name-{state}")
        run1 = run(e, "run_name1", 1000)
        run(e, "run_name2", 2000)
    client.update_run(run1, name="new_run_name1")
    with sqlite3.connect(db) as conn:  # a run logged by MLflow <= 1.29: its name in a tag only
        conn.execute("UPDATE runs SET name = '' WHERE run_uuid = ?", (run1,))

    e = experiment("sa-run-id")  # test_search_runs_run_id
    run(e, "name", 1)
    run(e, "name", 2)
    e = experiment("sa-start-alias")  # test_search_runs_start_time_alias
    run(e, "name", 1)
    run(e, "name", 2)

    e = experiment("sa-datasets")  # test_search_runs_datasets
    run(e, "r1", 1, inputs=[dataset("name1", "digest1", "train"),
                            dataset("name2", "digest2", "eval")])  # fmt: skip
    run(e, "r2", 3, inputs=[dataset("name1", "digest1", "train"),
                            dataset("name3", "digest3", "eval")])  # fmt: skip
    run(e, "r3", 2, inputs=[dataset("name2", "digest2", "test")])
    e = experiment("sa-datasets-params")  # test_search_runs_datasets_with_param_filters
    train = dataset("train_data", "digest1", "training")
    run(e, "r1", 1000, params={"learning_rate": "0.01", "batch_size": "32"}, inputs=[train])
    run(e, "r2", 2000, params={"learning_rate": "0.02"}, inputs=[train])

    e = experiment("sa-large")  # test_search_runs_*_large_*: 30 runs instead of 1000
    for i in range(30):
        run(e, "name", i, params={"pkey_0": f"pval_{(i + 1) % 11}"},
            metrics=[("mkey_0", i)], tags={"tkey_0": f"tval_{i % 10}"})  # fmt: skip
    e = experiment("sa-keep-all")  # test_search_runs_keep_all_runs_when_sorting
    run(e, "name", 0, tags={"t1": "1", "t2": "1"})
    run(e, "name", 0, tags={"t2": "1"})
    e = experiment("sa-inputs")  # test_log_inputs_and_retrieve_runs_behaves_as_expected
    for start in (1, 3, 2):
        run(e, "name", start, inputs=[dataset(f"name{start}", f"digest{start}",
                                              other_tags=[("key1", "value1")])])  # fmt: skip
    return {"uri": uri, "ids": ids, "folder": str(folder)}
