"""Which types a skops model file may name for nbmlops to load it without ``trusted=``.

The rule: skops' own default trusted types (everything ``skops.io.get_untrusted_types`` does
not report: builtins, numpy and scipy ufuncs and dtypes, scikit-learn's public estimators and
the loss/link types skops vouches for) plus the explicit list below. Nothing is trusted for
the package it comes from: ``sklearn.utils._mocking.CheckingClassifier``, anything under
``sklearn.utils._testing`` or ``sklearn.externals`` is as untrusted as any other class. The
check compares names only: it never imports a module a file names.

The list holds the non-estimator objects that fitted scikit-learn models keep in their
state, found by saving every estimator of ``sklearn.utils.all_estimators()`` and common
compositions (searches with splitters and scorers, feature selectors, calibration) with
skops and reading what it flags. It is documented in docs/registry.md; keep the two in step.
"""

from __future__ import annotations

_TREES = (
    # Fitted tree structures (decision trees, random forests, gradient boosting, isolation
    # forest). skops flags them all, and notes for TreePredictor that a crafted node array
    # can crash the process at predict time (scikit-learn indexes it without bounds checks):
    # a crash, not code run. nbmlops trusts them because without them no tree model loads,
    # and models come from its own store, written by register_model and checked against
    # their sha256 on every read.
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    # Neighbour search structures.
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
)

# The distance metrics of sklearn.metrics.DistanceMetric (not PyFuncDistance, which wraps an
# arbitrary Python callable), in their 64- and 32-bit variants.
_METRICS = tuple(
    f"sklearn.metrics._dist_metrics.{name}Distance{bits}"
    for name in (
        "BrayCurtis",
        "Canberra",
        "Chebyshev",
        "Dice",
        "Euclidean",
        "Hamming",
        "Haversine",
        "Jaccard",
        "Kulsinski",
        "Mahalanobis",
        "Manhattan",
        "Matching",
        "Minkowski",
        "RogersTanimoto",
        "RussellRao",
        "SEuclidean",
        "SokalMichener",
        "SokalSneath",
    )
    for bits in ("64", "32")
)

_LOSSES = (
    "AbsoluteError",
    "ExponentialLoss",
    "HalfBinomialLoss",
    "HalfGammaLoss",
    "HalfMultinomialLoss",
    "HalfPoissonLoss",
    "HalfSquaredError",
    "HalfTweedieLoss",
    "HalfTweedieLossIdentity",
    "HuberLoss",
    "PinballLoss",
)

_HELPERS = (
    # Gaussian process kernels.
    *(
        f"sklearn.gaussian_process.kernels.{name}"
        for name in (
            "CompoundKernel",
            "ConstantKernel",
            "DotProduct",
            "ExpSineSquared",
            "Exponentiation",
            "Matern",
            "PairwiseKernel",
            "Product",
            "RBF",
            "RationalQuadratic",
            "Sum",
            "WhiteKernel",
        )
    ),
    "sklearn.gaussian_process._gpc._BinaryGaussianProcessClassifierLaplace",
    # Optimizers of MLPClassifier/MLPRegressor.
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    # k-means internals.
    "sklearn.cluster._bisect_k_means._BisectingTree",
    "sklearn.cluster._kmeans._kmeans_single_lloyd",
    "sklearn.cluster._kmeans._kmeans_single_elkan",
    # CalibratedClassifierCV.
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    # scikit-learn's loss and link objects (plain data: a loss name, a link, an interval),
    # kept by gradient boosting and the GLMs. Newer skops releases trust most of them, older
    # ones (0.9-0.11) none: listed here so a model loads the same with every supported skops.
    *(f"sklearn._loss.loss.{name}" for name in _LOSSES),
    *(f"sklearn._loss._loss.Cy{name}" for name in _LOSSES),  # their compiled halves
    *(
        f"sklearn._loss.link.{name}"
        for name in (
            "HalfLogitLink",
            "IdentityLink",
            "Interval",
            "LogLink",
            "LogitLink",
            "MultinomialLogit",
        )
    ),
    # GradientBoosting's losses in scikit-learn < 1.4 (the module is gone in 1.4).
    *(
        f"sklearn.ensemble._gb_losses.{name}"
        for name in (
            "BinomialDeviance",
            "ExponentialLoss",
            "HuberLossFunction",
            "LeastAbsoluteError",
            "LeastSquaresError",
            "MultinomialDeviance",
            "QuantileLossFunction",
        )
    ),
    # HistGradientBoosting's bin edges.
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    # Score functions of univariate feature selection.
    "sklearn.feature_selection._univariate_selection.chi2",
    "sklearn.feature_selection._univariate_selection.f_classif",
    "sklearn.feature_selection._univariate_selection.f_oneway",
    "sklearn.feature_selection._univariate_selection.f_regression",
    "sklearn.feature_selection._univariate_selection.r_regression",
    "sklearn.feature_selection._mutual_info.mutual_info_classif",
    "sklearn.feature_selection._mutual_info.mutual_info_regression",
    # Cross-validation splitters kept by fitted searches.
    *(
        f"sklearn.model_selection._split.{name}"
        for name in (
            "GroupKFold",
            "GroupShuffleSplit",
            "KFold",
            "LeaveOneGroupOut",
            "LeaveOneOut",
            "LeavePGroupsOut",
            "LeavePOut",
            "PredefinedSplit",
            "RepeatedKFold",
            "RepeatedStratifiedKFold",
            "ShuffleSplit",
            "StratifiedGroupKFold",
            "StratifiedKFold",
            "StratifiedShuffleSplit",
            "TimeSeriesSplit",
        )
    ),
    # Scorers kept by fitted searches, and the metric functions of sklearn's named scorers
    # (get_scorer_names()).
    "sklearn.metrics._scorer._Scorer",
    "sklearn.metrics._scorer._PassthroughScorer",
    "sklearn.metrics._scorer._MultimetricScorer",
    "sklearn.metrics._scorer._PredictScorer",  # scikit-learn < 1.4
    "sklearn.metrics._scorer._ProbaScorer",  # scikit-learn < 1.4
    "sklearn.metrics._scorer._ThresholdScorer",  # scikit-learn < 1.4
    "sklearn.metrics._scorer.negative_likelihood_ratio",
    "sklearn.metrics._scorer.positive_likelihood_ratio",
    *(
        f"sklearn.metrics._classification.{name}"
        for name in (
            "accuracy_score",
            "balanced_accuracy_score",
            "brier_score_loss",
            "d2_brier_score",
            "d2_log_loss_score",
            "f1_score",
            "fbeta_score",
            "jaccard_score",
            "log_loss",
            "matthews_corrcoef",
            "precision_score",
            "recall_score",
        )
    ),
    *(
        f"sklearn.metrics._ranking.{name}"
        for name in ("average_precision_score", "roc_auc_score", "top_k_accuracy_score")
    ),
    *(
        f"sklearn.metrics._regression.{name}"
        for name in (
            "d2_absolute_error_score",
            "explained_variance_score",
            "max_error",
            "mean_absolute_error",
            "mean_absolute_percentage_error",
            "mean_gamma_deviance",
            "mean_poisson_deviance",
            "mean_squared_error",
            "mean_squared_log_error",
            "median_absolute_error",
            "r2_score",
            "root_mean_squared_error",
            "root_mean_squared_log_error",
        )
    ),
    *(
        f"sklearn.metrics.cluster._supervised.{name}"
        for name in (
            "adjusted_mutual_info_score",
            "adjusted_rand_score",
            "completeness_score",
            "fowlkes_mallows_score",
            "homogeneity_score",
            "mutual_info_score",
            "normalized_mutual_info_score",
            "rand_score",
            "v_measure_score",
        )
    ),
    # numpy and scipy objects estimators keep as defaults: FeatureAgglomeration's pooling
    # function, dtype parameters (KBinsDiscretizer, SimpleImputer), SplineTransformer's splines.
    "numpy.mean",
    "numpy.median",
    "numpy.dtype",
    "scipy.interpolate._bsplines.BSpline",
    "scipy._lib.array_api_compat.numpy._aliases.asarray",
)

# LightGBM's scikit-learn wrappers: skops keeps their Booster as LightGBM's own model text
# (Booster.__getstate__), which __setstate__ parses back; no Python code is named or run.
# OrderedDict and defaultdict hold their evaluation history (skops < 0.12 flags defaultdict;
# its default factory is a node of its own, checked like any other type).
_LIGHTGBM = (
    "collections.OrderedDict",
    "collections.defaultdict",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "lightgbm.sklearn.LGBMRanker",
)

TRUSTED_TYPES: frozenset[str] = frozenset((*_TREES, *_METRICS, *_HELPERS, *_LIGHTGBM))


def untrusted(flagged: list[str]) -> list[str]:
    """The names among those skops ``flagged`` that nbmlops does not trust either."""
    return sorted(name for name in flagged if name not in TRUSTED_TYPES)
