from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from bench.stats import (
    Summary,
    confusion_matrix,
    macro_f1,
    mcnemar,
    mean_std_ci,
    pairwise_significance,
    plain_pareto,
    significant_pareto,
)


def _discordant(b: int, c: int, both: int = 5, neither: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Correctness vectors with exactly b items only A gets right and c only B gets right."""
    a = [True] * b + [False] * c + [True] * both + [False] * neither
    bb = [False] * b + [True] * c + [True] * both + [False] * neither
    return np.array(a), np.array(bb)


# --- McNemar -------------------------------------------------------------------------------


def test_mcnemar_exact_by_hand() -> None:
    # b + c = 12 < 25: exact. p = 2 * sum_{k<=2} C(12, k) / 2^12 = 2 * (1 + 12 + 66) / 4096.
    res = mcnemar(*_discordant(10, 2))
    assert (res.b, res.c, res.method) == (10, 2, "exact")
    assert res.p_value == pytest.approx(2 * 79 / 4096, abs=1e-4)
    assert res.p_value == pytest.approx(0.03857, abs=1e-4)


def test_mcnemar_exact_is_symmetric() -> None:
    assert mcnemar(*_discordant(2, 10)).p_value == pytest.approx(mcnemar(*_discordant(10, 2)).p_value)


def test_mcnemar_chi2_by_hand() -> None:
    # b + c = 45 >= 25: chi-square. (|30 - 15| - 1)^2 / 45 = 196 / 45 = 4.35556;
    # P(chi2_1 > 4.35556) = erfc(sqrt(4.35556 / 2)) = 0.03689.
    res = mcnemar(*_discordant(30, 15))
    assert (res.b, res.c, res.method) == (30, 15, "chi2")
    assert res.statistic == pytest.approx(196 / 45, abs=1e-4)
    assert res.p_value == pytest.approx(math.erfc(math.sqrt(196 / 45 / 2)), abs=1e-4)
    assert res.p_value == pytest.approx(0.03689, abs=1e-4)


def test_mcnemar_threshold_is_25() -> None:
    assert mcnemar(*_discordant(20, 4)).method == "exact"
    assert mcnemar(*_discordant(20, 5)).method == "chi2"


def test_mcnemar_no_discordant_items() -> None:
    a = np.array([True, False, True])
    res = mcnemar(a, a.copy())
    assert (res.b, res.c, res.p_value) == (0, 0, 1.0)


def test_mcnemar_accepts_ints_and_rejects_bad_input() -> None:
    assert mcnemar([1, 0, 1], [0, 0, 1]).b == 1
    with pytest.raises(ValueError, match="same test items"):
        mcnemar([True, False], [True, False, True])
    with pytest.raises(ValueError, match="booleans"):
        mcnemar([0.9, 0.2], [0.1, 0.4])


# --- mean_std_ci -----------------------------------------------------------------------------


def test_mean_std_ci_matches_scipy_t_interval() -> None:
    vals = [0.80, 0.82, 0.84, 0.86]
    s = mean_std_ci(vals)
    assert (s.n, s.method) == (4, "student-t")
    assert s.mean == pytest.approx(0.83)
    assert s.std == pytest.approx(0.0258199, abs=1e-6)  # sample std (ddof=1)
    low, high = sps.t.interval(0.95, 3, loc=0.83, scale=s.std / 2)
    assert (s.ci_low, s.ci_high) == pytest.approx((low, high))
    # By hand: t_{0.975, 3} = 3.182446, half-width 3.182446 * 0.0258199 / 2 = 0.041085.
    assert (s.ci_low, s.ci_high) == pytest.approx((0.83 - 0.041085, 0.83 + 0.041085), abs=1e-6)
    s90 = mean_std_ci(vals, confidence=0.9)
    assert (s90.ci_low, s90.ci_high) == pytest.approx(sps.t.interval(0.9, 3, loc=0.83, scale=s.std / 2))


def test_mean_std_ci_two_seeds() -> None:
    # Two seeds: t_{0.975, 1} = 12.706, so 0.3 and 0.4 give 0.35 +- 12.706 * 0.0707 / sqrt(2).
    s = mean_std_ci([0.3, 0.4])
    assert (s.ci_low, s.ci_high) == pytest.approx((0.35 - 12.7062 * 0.05, 0.35 + 12.7062 * 0.05), abs=1e-4)


def test_mean_std_ci_single_value_has_no_interval() -> None:
    s = mean_std_ci([0.9])
    assert (s.n, s.mean) == (1, 0.9)
    assert math.isnan(s.std) and math.isnan(s.ci_low) and math.isnan(s.ci_high)


def test_mean_std_ci_all_equal_is_the_value() -> None:
    assert mean_std_ci([0.1, 0.1, 0.1]) == Summary(n=3, mean=0.1, std=0.0, ci_low=0.1, ci_high=0.1)


def test_mean_std_ci_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        mean_std_ci([])
    with pytest.raises(ValueError):
        mean_std_ci([0.5, float("nan")])
    with pytest.raises(ValueError):
        mean_std_ci([0.5, 0.6], confidence=1.0)


@pytest.mark.parametrize("n", [3, 5])
def test_mean_std_ci_coverage_normal(n: int) -> None:
    # Measured: 0.9490 at n = 3, 0.9525 at n = 5 (10,000 normal samples each).
    rng = np.random.default_rng(n)
    samples = rng.normal(0.8, 0.02, size=(10_000, n))
    hits = [(s.ci_low <= 0.8 <= s.ci_high) for s in map(mean_std_ci, samples)]
    assert np.mean(hits) >= 0.93


# --- pairwise significance -----------------------------------------------------------------


def _frame(preds: dict[str, list[int]], labels: list[int]) -> pd.DataFrame:
    rows = [
        {"model": m, "example_id": f"ex{i}", "label": labels[i], "pred": p[i]}
        for m, p in preds.items()
        for i in range(len(labels))
    ]
    return pd.DataFrame(rows)


def test_pairwise_significance_three_models() -> None:
    labels = [0, 1, 0, 1, 0, 1, 0, 1]
    right = labels
    wrong = [1 - y for y in labels]
    # "a" right everywhere; "b" wrong on the first 3; "c" wrong on items 2..7.
    preds = {
        "a": right,
        "b": wrong[:3] + right[3:],
        "c": right[:2] + wrong[2:],
    }
    out = pairwise_significance(_frame(preds, labels))
    assert list(out[["model_a", "model_b"]].itertuples(index=False, name=None)) == [
        ("a", "b"),
        ("a", "c"),
        ("b", "c"),
    ]
    got = out.set_index(["model_a", "model_b"])
    assert list(got.loc[("a", "b"), ["b", "c"]]) == [3, 0]
    assert list(got.loc[("a", "c"), ["b", "c"]]) == [6, 0]
    # b vs c: b is wrong on 0,1,2 and c on 2..7, so only b is right on 3..7 and only c on 0,1.
    assert list(got.loc[("b", "c"), ["b", "c"]]) == [5, 2]
    assert got.loc[("a", "b"), "acc_a"] == 1.0
    assert got.loc[("a", "b"), "acc_b"] == pytest.approx(5 / 8)
    assert got.loc[("b", "c"), "diff"] == pytest.approx(5 / 8 - 2 / 8)
    assert (out["n_items"] == 8).all()
    # Exact p for b=6, c=0: 2 / 2^6.
    assert got.loc[("a", "c"), "p_value"] == pytest.approx(2 / 64)
    assert bool(got.loc[("a", "c"), "significant"]) is True
    assert bool(got.loc[("a", "b"), "significant"]) is False


def test_pairwise_significance_inner_join_on_example_id() -> None:
    df = _frame({"a": [0, 1, 1], "b": [0, 0, 1]}, [0, 1, 1])
    df = df[~((df["model"] == "b") & (df["example_id"] == "ex2"))]
    out = pairwise_significance(df)
    assert out.loc[0, "n_items"] == 2
    assert list(out.loc[0, ["b", "c"]]) == [1, 0]


def test_pairwise_significance_majority_vote_over_seeds() -> None:
    labels = [0, 1, 2, 0]
    seeds = {
        0: [0, 1, 1, 2],
        1: [0, 2, 1, 1],
        2: [1, 1, 0, 2],
    }
    # Votes: ex0 -> 0 (2 of 3); ex1 -> 1 (2 of 3); ex2 -> 1 (2 of 3); ex3 -> {2, 1, 2} -> 2.
    rows = [
        {"model": "m", "seed": s, "example_id": i, "label": labels[i], "pred": p[i]}
        for s, p in seeds.items()
        for i in range(4)
    ]
    # A two-seed model with a tie on ex3 (2 vs 1): broken toward the lower id, 1.
    rows += [
        {"model": "t", "seed": s, "example_id": i, "label": labels[i], "pred": p[i]}
        for s, p in {0: [0, 1, 2, 2], 1: [0, 1, 2, 1]}.items()
        for i in range(4)
    ]
    # A reference model right everywhere, given once (a single seed).
    rows += [
        {"model": "ref", "seed": 0, "example_id": i, "label": labels[i], "pred": labels[i]} for i in range(4)
    ]
    got = pairwise_significance(pd.DataFrame(rows)).set_index(["model_a", "model_b"])
    # m's votes [0, 1, 1, 2] vs labels [0, 1, 2, 0]: right on ex0, ex1.
    assert got.loc[("m", "ref"), "acc_a"] == pytest.approx(0.5)
    # t's votes [0, 1, 2, 1]: right on ex0..ex2.
    assert got.loc[("t", "ref"), "acc_a"] == pytest.approx(0.75)
    assert list(got.loc[("m", "t"), ["b", "c"]]) == [0, 1]


def test_pairwise_significance_rejects_bad_frames() -> None:
    df = _frame({"a": [0, 1], "b": [0, 1]}, [0, 1])
    disjoint = df.assign(example_id=[f"{m}{e}" for m, e in zip(df["model"], df["example_id"], strict=True)])
    with pytest.raises(ValueError, match="share no example_id"):
        pairwise_significance(disjoint)
    with pytest.raises(ValueError, match="several rows"):
        pairwise_significance(pd.concat([df, df]))
    with pytest.raises(ValueError, match="missing columns"):
        pairwise_significance(df.drop(columns="label"))
    with pytest.raises(ValueError, match="label"):
        pairwise_significance(df.assign(label=[0, 1, 1, 1]))


def test_pairwise_significance_single_model_gives_empty_frame() -> None:
    out = pairwise_significance(_frame({"a": [0, 1]}, [0, 1]))
    assert out.empty and "p_value" in out.columns


# --- Pareto fronts -------------------------------------------------------------------------


def _pv(*pairs: tuple[str, str, float]) -> pd.DataFrame:
    return pd.DataFrame(pairs, columns=["model_a", "model_b", "p_value"])


def test_cheaper_tied_model_does_not_knock_dearer_one_off() -> None:
    points = pd.DataFrame({"model": ["small", "bert"], "accuracy": [0.880, 0.885], "cost": [1.0, 10.0]})
    out = significant_pareto(points, _pv(("small", "bert", 0.40)))
    assert out["on_front"].tolist() == [True, True]
    assert out["tied_with"].tolist() == ["bert", "small"]
    assert out["dominated_by"].tolist() == ["", ""]


def test_dearer_significantly_better_model_stays_on_front() -> None:
    points = pd.DataFrame({"model": ["small", "bert"], "accuracy": [0.85, 0.92], "cost": [1.0, 10.0]})
    out = significant_pareto(points, _pv(("bert", "small", 1e-6)))
    assert out["on_front"].tolist() == [True, True]
    assert out["tied_with"].tolist() == ["", ""]
    assert plain_pareto(points).tolist() == [True, True]


def test_dearer_significantly_worse_model_is_dominated() -> None:
    points = pd.DataFrame(
        {"model": ["good", "bad", "other"], "accuracy": [0.90, 0.80, 0.70], "cost": [1.0, 5.0, 6.0]}
    )
    pv = _pv(("good", "bad", 0.001), ("bad", "other", 0.3), ("good", "other", 1e-5))
    out = significant_pareto(points, pv)
    assert out["on_front"].tolist() == [True, False, False]
    assert out["dominated_by"].tolist() == ["", "good", "good"]
    assert out["tied_with"].tolist() == ["", "other", "bad"]
    assert list(out.columns[:3]) == ["model", "accuracy", "cost"]


def test_plain_and_significant_fronts_disagree() -> None:
    # bert is dearer and 0.5 points worse than small, but not significantly: the classical front
    # drops it, the significance-aware one keeps it as tied with small.
    points = pd.DataFrame(
        {
            "model": ["tiny", "small", "bert"],
            "accuracy": [0.70, 0.885, 0.88],
            "cost": [0.5, 1.0, 10.0],
        }
    )
    pv = _pv(("tiny", "small", 1e-9), ("tiny", "bert", 1e-9), ("small", "bert", 0.6))
    assert plain_pareto(points).tolist() == [True, True, False]
    sig = significant_pareto(points, pv)
    assert sig["on_front"].tolist() == [True, True, True]
    assert sig["tied_with"].tolist() == ["", "bert", "small"]


def test_missing_pvalue_counts_as_not_significant() -> None:
    points = pd.DataFrame({"model": ["a", "b"], "accuracy": [0.9, 0.5], "cost": [1.0, 2.0]})
    out = significant_pareto(points, _pv())
    assert out["on_front"].tolist() == [True, True]
    assert out["tied_with"].tolist() == ["b", "a"]


def test_pareto_uses_pairwise_significance_output_and_keeps_index() -> None:
    labels = [i % 2 for i in range(60)]
    preds = {"a": labels, "b": [1 - y if i < 30 else y for i, y in enumerate(labels)]}
    pv = pairwise_significance(_frame(preds, labels))
    points = pd.DataFrame({"model": ["b", "a"], "accuracy": [0.5, 1.0], "cost": [3.0, 2.0]}, index=[10, 20])
    out = significant_pareto(points, pv)
    assert out.index.tolist() == [10, 20]
    assert out.loc[10, "dominated_by"] == "a"
    assert plain_pareto(points).index.tolist() == [10, 20]


def test_pareto_rejects_bad_points() -> None:
    dup = pd.DataFrame({"model": ["a", "a"], "accuracy": [0.9, 0.8], "cost": [1.0, 2.0]})
    with pytest.raises(ValueError, match="duplicate"):
        plain_pareto(dup)
    nan_cost = pd.DataFrame({"model": ["a", "b"], "accuracy": [0.9, 0.8], "cost": [1.0, None]})
    with pytest.raises(ValueError, match="non-finite"):
        significant_pareto(nan_cost, _pv())


def test_plain_pareto_equal_points_both_on_front() -> None:
    points = pd.DataFrame({"model": ["a", "b", "c"], "accuracy": [0.8, 0.8, 0.8], "cost": [1.0, 1.0, 2.0]})
    assert plain_pareto(points).tolist() == [True, True, False]


# --- confusion matrix and macro F1 ---------------------------------------------------------


def test_confusion_matrix_by_hand() -> None:
    labels = [0, 0, 1, 1, 1, 2]
    preds = [0, 1, 1, 1, 2, 0]
    expected = np.array([[1, 1, 0], [0, 2, 1], [1, 0, 0]])
    np.testing.assert_array_equal(confusion_matrix(labels, preds, 3), expected)


def test_macro_f1_by_hand() -> None:
    labels = [0, 0, 1, 1, 1, 2]
    preds = [0, 1, 1, 1, 2, 0]
    # class 0: tp=1 fp=1 fn=1 -> 2/4; class 1: tp=2 fp=1 fn=1 -> 4/6; class 2: tp=0 -> 0.
    assert macro_f1(labels, preds, 3) == pytest.approx((0.5 + 2 / 3 + 0.0) / 3)


def test_macro_f1_absent_class_counts_as_zero() -> None:
    # Class 2 has no support and no predictions: F1 = 0 (zero_division=0), and still averaged.
    assert macro_f1([0, 1], [0, 1], 3) == pytest.approx(2 / 3)
    assert macro_f1([0, 1], [0, 1], 2) == 1.0


def _loop_macro_f1(labels: np.ndarray, preds: np.ndarray, n_classes: int) -> float:
    scores = []
    for k in range(n_classes):
        tp = sum(1 for y, p in zip(labels, preds, strict=True) if y == k and p == k)
        fp = sum(1 for y, p in zip(labels, preds, strict=True) if y != k and p == k)
        fn = sum(1 for y, p in zip(labels, preds, strict=True) if y == k and p != k)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return sum(scores) / n_classes


def test_confusion_matrix_and_macro_f1_match_loops_on_random_data() -> None:
    rng = np.random.default_rng(0)
    for n_classes in (2, 5):
        labels = rng.integers(0, n_classes, size=2_000)
        preds = np.where(rng.random(2_000) < 0.6, labels, rng.integers(0, n_classes, size=2_000))
        cm = np.zeros((n_classes, n_classes), dtype=np.int64)
        for y, p in zip(labels, preds, strict=True):
            cm[y, p] += 1
        np.testing.assert_array_equal(confusion_matrix(labels, preds, n_classes), cm)
        assert macro_f1(labels, preds, n_classes) == pytest.approx(_loop_macro_f1(labels, preds, n_classes))


def test_confusion_matrix_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix([0, 3], [0, 1], 3)
    with pytest.raises(ValueError, match="length"):
        confusion_matrix([0, 1], [0], 2)
    with pytest.raises(ValueError, match="integer"):
        macro_f1([0.0, 1.0], [0, 1], 2)
