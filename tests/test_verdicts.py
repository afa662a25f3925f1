from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bench.stats.paired import AccuracyComparison, compare_accuracy
from bench.stats.verdicts import (
    FRONT_COLUMNS,
    INCONCLUSIVE,
    NOT_WORTH_IT,
    VERDICT_COLUMNS,
    WORTH_IT,
    pair_verdicts,
    verdict_front,
)

# Cost replicates: CHEAP and DEAR differ significantly (3x), CHEAP and LIKE_CHEAP do not.
CHEAP = [100.0, 104.0, 96.0]
LIKE_CHEAP = [101.0, 97.0, 105.0]
DEAR = [300.0, 310.0, 295.0]


def _comp(
    diff: float,
    p: float,
    *,
    ci: tuple[float, float] | None = None,
    mde: float = 0.041,
    n: int = 500,
    seeds: tuple[int, int] = (1, 1),
) -> AccuracyComparison:
    low, high = ci if ci is not None else (diff - 0.02, diff + 0.02)
    return AccuracyComparison(
        # The t test's bounds (from se and df), whatever the seeds: McNemar's would need b and c.
        method="paired t over items and seeds",
        n_items=n,
        seeds_a=seeds[0],
        seeds_b=seeds[1],
        acc_a=0.80,
        acc_b=0.80 + diff,
        diff=diff,
        ci_low=low,
        ci_high=high,
        p_value=p,
        mde=mde,
        b=None,
        c=None,
        df=math.inf,
        alpha=0.05,
        power=0.8,
        se=(high - low) / (2 * 1.959964),  # a normal test, so upper() and p_not_superior() agree with ci
        se_seeds=0.0,
    )


def _front(models: list[str], verdicts: pd.DataFrame) -> dict[str, str | None]:
    """model -> dominated_by, None for models on the front."""
    out = verdict_front(models, verdicts)
    assert list(out.columns) == FRONT_COLUMNS
    assert (out["on_front"] == (out["dominated_by"] == "")).all()
    return {m: (by or None) for m, by in zip(out["model"], out["dominated_by"])}


def test_issue_example_not_worth_it_at_a_two_point_margin_and_off_the_front() -> None:
    bert = np.array([3550.0, 3600.0, 3650.0, 3560.0, 3640.0])
    bilstm = bert * 1.07 + np.array([30.0, -30.0, 10.0, -10.0, 0.0])
    models = ["bert_bilstm", "bert"]
    # Given the other way round (bert_bilstm as A): the verdict reads it as bert first.
    comps = {("bert_bilstm", "bert"): _comp(0.002, 1.0, ci=(-0.015, 0.019))}
    costs = {"bert": bert, "bert_bilstm": bilstm}
    # At 1 point the data cannot show the gain is below the margin: the bound is +1.2 points.
    loose = pair_verdicts(models, costs, comps).iloc[0]
    se = 0.034 / (2 * 1.959964)
    assert loose["gain_upper_adjusted"] == pytest.approx(-0.002 + 1.644854 * se, abs=1e-6)
    assert loose["verdict"] == INCONCLUSIVE and loose["margin"] == 1.0
    assert (
        "its gain is at most +1.2 points (one-sided, Holm-adjusted), not below the 1-point margin"
        in (loose["sentence"])
    )
    out = pair_verdicts(models, costs, comps, margin=2.0)
    assert list(out.columns) == VERDICT_COLUMNS
    row = out.iloc[0]
    assert (row["model_a"], row["model_b"], row["cost"]) == ("bert", "bert_bilstm", "training time")
    assert row["cost_ratio"] == pytest.approx(1.07)
    assert row["cost_significant"] is True
    assert (row["acc_diff"], row["acc_diff_ci_low"], row["acc_diff_ci_high"]) == pytest.approx(
        (-0.002, -0.019, 0.015)
    )
    assert row["verdict"] == NOT_WORTH_IT and row["margin"] == 2.0
    assert row["sentence"] == (
        "bert_bilstm costs 1.07\u00d7 the training time of bert (95% CI 1.05\u20131.09) and is 0.2 points"
        " less accurate (\u22121.9 to +1.5; adjusted p = 1.0): not worth it: its gain is at most +1.2"
        " points (one-sided, Holm-adjusted), below the 2-point margin."
    )
    assert _front(models, out) == {"bert_bilstm": "bert", "bert": None}


def test_worth_it_when_significantly_better_and_dearer_both_stay() -> None:
    out = pair_verdicts(
        ["small", "big"], {"small": CHEAP, "big": DEAR}, {("small", "big"): _comp(0.05, 1e-6)}
    )
    row = out.iloc[0]
    assert (row["model_a"], row["model_b"], row["verdict"]) == ("small", "big", WORTH_IT)
    assert row["sentence"].endswith(
        "is 5.0 points more accurate (+3.0 to +7.0; adjusted p < 0.001): worth it."
    )
    assert _front(["small", "big"], out) == {"small": None, "big": None}  # a real trade-off


def test_better_at_no_significant_extra_cost_dominates() -> None:
    out = pair_verdicts(["a", "b"], {"a": CHEAP, "b": LIKE_CHEAP}, {("a", "b"): _comp(0.03, 0.001)})
    row = out.iloc[0]
    assert row["cost_significant"] is False and row["verdict"] == WORTH_IT
    assert _front(["a", "b"], out) == {"a": "b", "b": None}


def test_significantly_worse_and_not_cheaper_is_not_worth_it() -> None:
    out = pair_verdicts(["a", "b"], {"a": CHEAP, "b": LIKE_CHEAP}, {("a", "b"): _comp(-0.03, 0.002)})
    row = out.iloc[0]
    assert (row["model_a"], row["model_b"]) == ("a", "b")
    assert row["cost_significant"] is False and row["verdict"] == NOT_WORTH_IT
    assert _front(["a", "b"], out) == {"a": None, "b": "a"}


def test_inconclusive_says_what_could_not_be_seen() -> None:
    comps = {("a", "b"): _comp(0.01, 0.4, ci=(-0.012, 0.032), mde=0.041)}
    row = pair_verdicts(["a", "b"], {"a": CHEAP, "b": LIKE_CHEAP}, comps).iloc[0]
    assert row["verdict"] == INCONCLUSIVE
    assert (
        "is 1.0 points more accurate (\u22121.2 to +3.2; adjusted p = 0.40): inconclusive; its gain is at"
        " most +2.8 points (one-sided, Holm-adjusted), not below the 1-point margin; a difference under 4.1"
        " points could not have been detected with 500 test items; about " in row["sentence"]
    )
    # One seed each: only more items decide. At the spread observed (SE 1.12 points at 500 items),
    # the gain of 1 point is significant at SE 1 / 1.96 = 0.51: 500 (1.12 / 0.51)^2 = 2,415 items.
    se = 0.044 / (2 * 1.959964)
    assert row["items_to_decide"] == math.ceil(500 * se**2 / (0.01 / 1.959964) ** 2)
    assert row["sentence"].endswith(
        f"about {row['items_to_decide']} test items in all would decide it at the spread observed."
    )
    seeded = {("a", "b"): _comp(0.01, 0.4, seeds=(3, 3))}
    row = pair_verdicts(["a", "b"], {"a": CHEAP, "b": LIKE_CHEAP}, seeded).iloc[0]
    assert "with 500 test items and 3 seeds of a, 3 of b; about" in row["sentence"]


def test_dearer_not_better_is_not_worth_it_only_when_the_gain_is_shown_below_the_margin() -> None:
    # Absence of evidence is no verdict: +1 point, bound +2.7, is inconclusive at a 1-point margin.
    out = pair_verdicts(["a", "b"], {"a": CHEAP, "b": DEAR}, {("a", "b"): _comp(0.01, 0.4)})
    assert out.iloc[0]["verdict"] == INCONCLUSIVE
    assert _front(["a", "b"], out) == {"a": None, "b": None}
    # +0.1 point within [-0.4, +0.6]: the bound +0.52 is below the margin: not worth it.
    tight = {("a", "b"): _comp(0.001, 0.7, ci=(-0.004, 0.006))}
    out = pair_verdicts(["a", "b"], {"a": CHEAP, "b": DEAR}, tight)
    assert out.iloc[0]["verdict"] == NOT_WORTH_IT and out.iloc[0]["gain_upper_adjusted"] < 0.01
    assert _front(["a", "b"], out) == {"a": None, "b": "a"}
    # The same accuracy at no significant extra cost is not "not worth it".
    out = pair_verdicts(["a", "b"], {"a": CHEAP, "b": LIKE_CHEAP}, tight)
    assert out.iloc[0]["verdict"] == INCONCLUSIVE


def test_exact_costs() -> None:
    params = {"a": [66e6], "b": [66e6], "c": [110e6]}
    comps = {
        ("a", "b"): _comp(0.004, 0.6),
        ("a", "c"): _comp(0.002, 0.9, ci=(-0.003, 0.007)),
        ("b", "c"): _comp(-0.002, 0.9, ci=(-0.007, 0.003)),
    }
    out = pair_verdicts(["a", "b", "c"], params, comps, cost="parameters", exact=True)
    rows = out.set_index(["model_a", "model_b"])
    # Same cost, no significant difference: tied, both stay.
    assert rows.loc[("a", "b"), "verdict"] == INCONCLUSIVE
    assert rows.loc[("a", "b"), "sentence"].startswith("b costs the same parameters as a and is 0.4 points")
    assert (
        rows.loc[("a", "c"), "cost_significant"] is True and rows.loc[("a", "c"), "verdict"] == NOT_WORTH_IT
    )
    assert rows.loc[("a", "c"), "sentence"].startswith("c costs 1.67\u00d7 the parameters of a and")
    assert math.isnan(rows.loc[("a", "c"), "cost_ci_low"])
    assert _front(["a", "b", "c"], out) == {"a": None, "b": None, "c": "a,b"}
    # At the same exact cost only a significant accuracy difference dominates.
    comps[("a", "b")] = _comp(0.03, 0.001)
    out = pair_verdicts(["a", "b", "c"], params, comps, cost="parameters", exact=True)
    assert _front(["a", "b", "c"], out) == {"a": "b", "b": None, "c": "a,b"}


def test_one_cost_replicate_is_unknown_not_significant() -> None:
    out = pair_verdicts(["a", "b"], {"a": [100.0], "b": [300.0, 310.0]}, {("a", "b"): _comp(0.01, 0.4)})
    row = out.iloc[0]
    assert row["cost_significant"] is None and math.isnan(row["cost_ci_low"])
    assert row["verdict"] == INCONCLUSIVE
    assert "(no interval from a single replicate)" in row["sentence"]
    assert _front(["a", "b"], out) == {"a": None, "b": None}
    better = pair_verdicts(["a", "b"], {"a": [100.0], "b": [300.0]}, {("a", "b"): _comp(0.05, 1e-5)})
    assert better.iloc[0]["verdict"] == WORTH_IT
    assert _front(["a", "b"], better) == {"a": "b", "b": None}  # unknown cost counts as no dearer


def test_holm_adjustment_decides() -> None:
    # Raw p 0.01, 0.04, 0.03 -> Holm 0.03, 0.06, 0.06: only the first pair stays significant.
    costs = {"a": CHEAP, "b": DEAR, "c": [900.0, 910.0, 905.0]}
    comps = {("a", "b"): _comp(0.03, 0.01), ("a", "c"): _comp(0.02, 0.04), ("b", "c"): _comp(0.02, 0.03)}
    out = pair_verdicts(["a", "b", "c"], costs, comps).set_index(["model_a", "model_b"])
    assert out["p_adjusted"].tolist() == pytest.approx([0.03, 0.06, 0.06])
    # The other two gain +2 points [0, +4]: neither significant nor shown below the margin.
    assert out["verdict"].tolist() == [WORTH_IT, INCONCLUSIVE, INCONCLUSIVE]
    assert _front(["a", "b", "c"], out.reset_index()) == {"a": None, "b": None, "c": None}


def test_p_adjusted_never_below_p() -> None:
    rng = np.random.default_rng(0)
    models = [f"m{i}" for i in range(6)]
    costs = {m: rng.lognormal(i, 0.1, size=3) for i, m in enumerate(models)}
    comps = {}
    for i, ma in enumerate(models):
        for mb in models[i + 1 :]:
            comps[(ma, mb)] = _comp(float(rng.normal(0, 0.02)), float(rng.random() ** 2))
    out = pair_verdicts(models, costs, comps)
    assert len(out) == 15
    assert (out["p_adjusted"] >= out["p_value"]).all()
    assert (out["cost_ratio"] >= 1).all()  # cheaper model first


def test_cost_ties_keep_the_given_order() -> None:
    out = pair_verdicts(["y", "x"], {"x": [5.0], "y": [5.0]}, {("x", "y"): _comp(0.0, 1.0)}, exact=True)
    row = out.iloc[0]
    assert (row["model_a"], row["model_b"], row["cost_ratio"]) == ("y", "x", 1.0)
    assert row["sentence"].startswith("x costs the same training time as y and is as accurate")


def test_verdict_follows_the_paired_statistic_not_a_majority_vote() -> None:
    # 3 seeds each over 99 blocks of 6 items. A: every item right in exactly 2 of its 3 seeds, so
    # its majority vote is right everywhere (1.0) while each seed scores 4/6. B: items 0-3 right in
    # all seeds, items 4-5 in one seed only, so its vote scores 4/6 while each seed scores 14/18.
    # Voting says A is better by a third; the seeds, paired item by item, say B by 1/9.
    blocks = 99
    a = np.ones((3, blocks, 6), dtype=bool)
    b = np.ones((3, blocks, 6), dtype=bool)
    for j in range(blocks):
        for i in range(6):
            a[(i + j) % 3, j, i] = False  # rotating so that every seed scores the same
        b[:, j, 4:] = False
        b[j % 3, j, 4] = True
        b[(j + 1) % 3, j, 5] = True
    a, b = a.reshape(3, -1), b.reshape(3, -1)
    vote_a, vote_b = (a.sum(axis=0) >= 2).mean(), (b.sum(axis=0) >= 2).mean()
    assert (vote_a, vote_b) == pytest.approx((1.0, 4 / 6))
    comp = compare_accuracy(a, b)
    assert comp.diff == pytest.approx(1 / 9) and comp.p_value < 1e-6
    out = pair_verdicts(["a", "b"], {"a": CHEAP, "b": DEAR}, {("a", "b"): comp})
    assert out.iloc[0]["verdict"] == WORTH_IT
    assert out.iloc[0]["acc_diff"] == pytest.approx(1 / 9)
    # With B the cheaper one, B beats A outright.
    out = pair_verdicts(["a", "b"], {"a": DEAR, "b": CHEAP}, {("a", "b"): comp})
    assert (out.iloc[0]["model_a"], out.iloc[0]["verdict"]) == ("b", NOT_WORTH_IT)
    assert _front(["a", "b"], out) == {"a": "b", "b": None}


def test_single_model_has_no_pairs() -> None:
    out = pair_verdicts(["only"], {"only": CHEAP}, {})
    assert out.empty and list(out.columns) == VERDICT_COLUMNS
    assert _front(["only"], out) == {"only": None}


def test_bad_inputs() -> None:
    costs = {"a": CHEAP, "b": DEAR, "c": DEAR}
    with pytest.raises(ValueError, match="lacks the pairs"):
        pair_verdicts(["a", "b", "c"], costs, {("a", "b"): _comp(0.0, 1.0), ("a", "c"): _comp(0.0, 1.0)})
    with pytest.raises(ValueError, match="twice"):
        pair_verdicts(["a", "b"], costs, {("a", "b"): _comp(0.0, 1.0), ("b", "a"): _comp(0.0, 1.0)})
    with pytest.raises(ValueError, match="not a pair"):
        pair_verdicts(["a", "b"], costs, {("a", "z"): _comp(0.0, 1.0)})
    with pytest.raises(ValueError, match="costs lacks"):
        pair_verdicts(["a", "b"], {"a": CHEAP}, {("a", "b"): _comp(0.0, 1.0)})
    with pytest.raises(ValueError, match="duplicates"):
        pair_verdicts(["a", "a"], costs, {})
    with pytest.raises(ValueError, match="missing columns"):
        verdict_front(["a"], pd.DataFrame({"model_a": []}))
