"""Nested test draws: a larger test keeps the smaller one as its prefix and never moves a training or
validation row, and a dataset says when its test split is used up."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data import DataRequest, load_dataset, nested_order


def test_nested_order_prefixes_keep_class_shares() -> None:
    labels = np.array([0] * 70 + [1] * 20 + [2] * 10)
    order = nested_order(labels, np.random.default_rng(3))
    assert sorted(order.tolist()) == list(range(100))
    for n in range(1, 101):
        counts = np.bincount(labels[order[:n]], minlength=3)
        assert np.all(np.abs(counts - n * np.array([0.7, 0.2, 0.1])) <= 1.0), (n, counts)


def _ids(spec: str, max_test: int, max_train: int = 300) -> tuple[list[str], list[str], list[str], int]:
    data = load_dataset(spec, DataRequest(max_train=max_train, max_test=max_test, seed=2, val_share=0.1))
    return data.train.ids, data.val.ids, data.test.ids, data.test_available


def test_imdb_test_draws_nest_and_leave_training_rows_alone() -> None:
    train_s, val_s, test_s, pool = _ids("imdb", 100)
    train_l, val_l, test_l, pool_l = _ids("imdb", 400)
    assert test_l[:100] == test_s  # the first 100 of the 400-review draw are the 100-review draw
    assert train_l == train_s and val_l == val_s  # extending the test moves no other row
    assert not set(test_l) & (set(train_l) | set(val_l))
    assert pool == pool_l == 25_000 - 300  # every review not trained or validated on can be tested


def test_file_test_draws_nest_and_the_split_is_used_up(tmp_path: Path) -> None:
    rows = ["text,label"] + [f"review {i} {'good' if i % 3 else 'bad'},{i % 3 > 0:d}" for i in range(200)]
    path = tmp_path / "reviews.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    spec = f"csv:{path}"  # one file: 40 rows (20%) are the test split
    draws = {n: _ids(spec, n, max_train=100) for n in (10, 25, 40, 60)}
    assert draws[25][2][:10] == draws[10][2]
    assert draws[40][2][:25] == draws[25][2]
    assert all(d[0] == draws[10][0] and d[1] == draws[10][1] for d in draws.values())
    assert draws[10][3] == 40  # the test split's size, known before it is used up
    assert sorted(draws[40][2]) == sorted(draws[60][2])  # asking beyond it gives all 40, no more
    assert len(draws[60][2]) == 40 == draws[60][3]
