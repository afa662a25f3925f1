from __future__ import annotations

import pytest

from bench.config import apply_overrides, load_suite
from bench.errors import BenchError


def test_packaged_suites_load() -> None:
    quick = load_suite("quick")
    assert quick.models() == ["encoder", "bert", "bert_bilstm", "tfidf_lr"]
    paper = load_suite("paper")
    by_model = {run.model: run for run in paper.runs}
    assert (by_model["encoder"].max_len, by_model["bert"].max_len) == (150, 150)
    assert by_model["bert_bilstm"].max_len == 200
    assert [by_model[m].lr for m in ("encoder", "bert", "bert_bilstm")] == [1e-4, 1e-5, 3e-5]
    assert [by_model[m].epochs for m in ("encoder", "bert", "bert_bilstm")] == [100, 20, 10]
    assert all(run.batch_size == 64 and run.paper_quirks for run in paper.runs)
    assert all(run.val_share == 0 for run in paper.runs)  # the paper trained on all of train.tsv
    assert by_model["bert_bilstm"].label_smoothing == 0.1


def test_overrides_and_model_selection() -> None:
    runs = apply_overrides(load_suite("quick"), {"epochs": 3, "lr": None}, ("bert",))
    assert [r.model for r in runs] == ["bert"]
    assert runs[0].epochs == 3 and runs[0].lr == 1e-4


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"epochs": -1}, "Epochs must be at least 1"),
        ({"batch_size": 0}, "Batch size must be at least 1"),
        ({"max_len": 1}, "Max_len must be at least 2"),
        ({"val_share": 1}, r"Val_share must be in \[0, 1\), not 1.0"),
        ({"val_share": -0.1}, r"Val_share must be in \[0, 1\), not -0.1"),
    ],
)
def test_impossible_values_are_user_errors(overrides: dict, message: str) -> None:
    with pytest.raises(BenchError, match=message):
        apply_overrides(load_suite("quick"), overrides)


def test_unknown_suite_suggests(tmp_path) -> None:
    with pytest.raises(BenchError, match="Did you mean 'quick'"):
        load_suite("quik")
    bad = tmp_path / "bad.toml"
    bad.write_text("[run]\nepochz = 1\n[models.encoder]\n")
    with pytest.raises(BenchError, match="Did you mean 'epochs'"):
        load_suite(str(bad))
    broken = tmp_path / "broken.toml"
    broken.write_text("[run\n")
    with pytest.raises(BenchError, match="not valid TOML"):
        load_suite(str(broken))


def test_val_share_is_a_run_setting(tmp_path) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text("[run]\nval_share = 0\n[models.encoder]\n[models.bert]\nval_share = 0.2\n")
    runs = apply_overrides(load_suite(str(suite)), {})
    assert [r.val_share for r in runs] == [0.0, 0.2]
    assert isinstance(runs[0].val_share, float)
    assert [r.val_share for r in apply_overrides(load_suite("quick"), {"val_share": 0.25})] == [0.25] * 4
    assert load_suite("quick").runs[0].val_share == 0.1
