"""LightGBM training with the settings both models share: one thread, early stopping on the validation slice,
and deterministic runs so that the same data gives the same model.

One thread because the machines have two cores shared with the server, the worker and other jobs: OpenMP's
spinning threads made a second thread up to twice as slow on a busy machine (measured on bpic12: 42 s with one
thread against 80 s with two while another process ran), and it brought little on an idle one. The second core is
used instead by fitting independent boosters side by side (`nba.TREE_WORKERS`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
THREADS = 1


def train_booster(
    params: dict[str, Any],
    x_fit: FloatArray,
    y_fit: npt.NDArray[Any],
    categorical: Sequence[int],
    rounds: int,
    x_val: FloatArray | None = None,
    y_val: npt.NDArray[Any] | None = None,
    early_stopping: int = 20,
) -> lgb.Booster:
    full = {
        "verbosity": -1,
        "num_threads": THREADS,
        "deterministic": True,
        "force_row_wise": True,
        "seed": 7,
        **params,
    }
    fit_set = lgb.Dataset(x_fit, label=y_fit, categorical_feature=list(categorical), free_raw_data=True)
    callbacks: list[Callable[..., Any]] = []
    valid_sets: list[lgb.Dataset] = []
    if x_val is not None and y_val is not None and len(y_val):
        valid_sets = [lgb.Dataset(x_val, label=y_val, reference=fit_set, categorical_feature=list(categorical))]
        callbacks.append(lgb.early_stopping(early_stopping, first_metric_only=True, verbose=False))
    return lgb.train(full, fit_set, num_boost_round=rounds, valid_sets=valid_sets, callbacks=callbacks)


def booster_from_string(text: str) -> lgb.Booster:
    """A booster from LightGBM's text format; ValueError or LightGBMError, never a crash, if the text is damaged.

    LightGBM parses the trees at the byte offsets its header lists (`tree_sizes=`) in an OpenMP loop, and a parse
    error there aborts the whole process ("terminate called without an active exception") instead of raising.
    Without that line it reads the trees one after another and raises, so the line is dropped here; it would only
    have let a multi-threaded load split the work. What it said is checked instead: that many trees, then the end.
    """
    if "\nend of trees\n" not in text:
        raise ValueError("the LightGBM model text is incomplete (it does not reach 'end of trees')")
    header, first, trees = text.partition("\nTree=")
    lines = header.split("\n")
    sizes = next((line for line in lines if line.startswith("tree_sizes=")), None)
    expected = len(sizes.removeprefix("tree_sizes=").split()) if sizes is not None else None
    kept = "\n".join(line for line in lines if not line.startswith("tree_sizes="))
    booster = lgb.Booster(model_str=kept + first + trees)
    if expected is not None and booster.num_trees() != expected:
        raise ValueError(f"the LightGBM model text has {booster.num_trees()} trees where its header lists {expected}")
    return booster


def sample_rows(n: int, cap: int, seed: int) -> npt.NDArray[np.int64]:
    """Row indices to train on: all of them, or an even random subset when there are more than `cap`."""
    if n <= cap:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=cap, replace=False))
