from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.data import (
    DataRequest,
    Dataset,
    Split,
    carve_val,
    clean_text,
    load_dataset,
    stratified_indices,
    val_size,
)
from bench.errors import BenchError
from tests.ci import need_module

# Every row, no validation split, and every class however small: these files are a few rows long.
ALL = DataRequest(max_train=None, max_test=None, val_share=0.0, min_class_size=0)


def kaggle_dir(tmp_path: Path, train: str | bytes, test: str | bytes | None = None) -> Path:
    for name, body in (("train.tsv", train), ("test.tsv", test if test is not None else train)):
        data = body.encode() if isinstance(body, str) else body
        (tmp_path / name).write_bytes(data)
    return tmp_path


def test_kaggle_loader_reads_the_real_sample(tmp_path: Path, shared_kaggle: Path) -> None:
    shutil.copy(shared_kaggle, tmp_path / "train.tsv")
    shutil.copy(shared_kaggle, tmp_path / "test.tsv")
    data = load_dataset(f"kaggle:{tmp_path}", ALL)
    assert data.label_names == ("negative", "neutral", "positive")
    assert len(data.train.texts) == 2000
    assert np.bincount(data.train.labels).tolist() == [809, 637, 554]
    # CSV-quoted fields lose their quotes and un-double the inner ones.
    first = data.train.texts[0]
    assert first.startswith('It\'s funny that a 10 hour "mini" series')
    assert not any("\r" in t for t in data.train.texts)
    sub = load_dataset(f"kaggle:{tmp_path}", DataRequest(max_train=200, max_test=50, val_share=0.0))
    assert len(sub.train.texts) == 200 and len(sub.test.texts) == 50
    shares = np.bincount(sub.train.labels) / 200
    assert np.allclose(shares, [809 / 2000, 637 / 2000, 554 / 2000], atol=0.01)


def test_a_bad_label_in_the_test_file_is_named_there(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("text,label\ngood,1\nbad,0\n")
    (tmp_path / "test.csv").write_text('text,label\n"two\nlines",1\nbad,0.5\n')
    spec = f"csv:{tmp_path / 'train.csv'}?test={tmp_path / 'test.csv'}"
    with pytest.raises(BenchError, match=r"test\.csv, line 4: label '0\.5' is not one of integers"):
        load_dataset(spec, ALL)


def test_kaggle_edge_cases(tmp_path: Path) -> None:
    body = (
        "sentiment\treview\twords\r\n"
        '2\t"Great, ""really"" great<br />show"\tgreat\r\n'
        "0\tAwful.\tawful\r\n"
        '1\t"tabs\tinside quotes"\tmeh\r\n'
    )
    data = load_dataset(f"kaggle:{kaggle_dir(tmp_path, body)}", ALL)
    assert data.train.texts == ['Great, "really" great show', "Awful.", "tabs inside quotes"]
    assert data.train.labels.tolist() == [2, 0, 1]
    assert data.n_classes == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("sentiment\ttext\n1\tok\n", "missing column(s) 'review'"),
        ("sentiment\treview\n3\tok\n0\tbad\n", "line 2: label '3' is not one of 0 to 2"),
        ("sentiment\treview\nx\tok\n0\tbad\n", "line 2: label 'x'"),
        ("sentiment\treview\n1\tok\n0\t   \n", "line 3: empty review"),
        ("sentiment\treview\n1\tok\n1\tfine\n", "single class"),
        (b"sentiment\treview\n1\tok\xff\n0\tbad\n", "line 2: bytes that are not UTF-8"),
        ("sentiment\treview\n1\tok\n0\tbad\n".encode("utf-16"), "line 1: UTF-16 text"),
        ("sentiment\treview\n1\tok\n0\tmauvais caf\xe9\n".encode("latin-1"), "line 3: bytes that are not"),
        ("sentiment\treview\n1\tok\textra\n0\tbad\n", "line 2: 3 fields, more than the header's 2"),
        ("sentiment\treview\n1\n0\tbad\n", "line 2: 1 fields, fewer than the header's 2"),
        ('sentiment\treview\n1\t"open quote\n0\tbad\n', "unbalanced quote"),
        ("", "is empty"),
    ],
)
def test_kaggle_bad_input_is_one_clear_error(tmp_path: Path, body: str | bytes, message: str) -> None:
    with pytest.raises(BenchError) as info:
        load_dataset(f"kaggle:{kaggle_dir(tmp_path, body)}", ALL)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_skip_bad_rows_counts_them(tmp_path: Path) -> None:
    body = "sentiment\treview\n1\tok\n0\t \n0\tbad\n"
    request = DataRequest(None, None, skip_bad_rows=True, min_class_size=0)
    data = load_dataset(f"kaggle:{kaggle_dir(tmp_path, body)}", request)
    assert data.skipped_rows == 2  # one in train.tsv, one in test.tsv
    assert data.train.texts == ["ok", "bad"]


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="is not a folder"):
        load_dataset(f"kaggle:{tmp_path / 'nope'}", ALL)


def test_imdb_split_is_stratified_disjoint_and_deterministic() -> None:
    request = DataRequest(max_train=300, max_test=100, seed=3)
    a, b = load_dataset("imdb", request), load_dataset("imdb", request)
    assert a.train.ids == b.train.ids and a.val.ids == b.val.ids and a.test.ids == b.test.ids
    assert len({*a.train.ids, *a.val.ids, *a.test.ids}) == 270 + 30 + 100
    assert np.bincount(a.train.labels).tolist() == [135, 135]
    assert np.bincount(a.val.labels).tolist() == [15, 15]
    assert np.bincount(a.test.labels).tolist() == [50, 50]
    assert not any("<br" in t for t in a.train.texts)
    other = load_dataset("imdb", DataRequest(max_train=300, max_test=100, seed=4))
    assert other.test.ids != a.test.ids


def test_csv_with_string_labels_and_columns(tmp_path: Path) -> None:
    rows = ["body,stars"] + [f"review number {i},{'good' if i % 2 else 'bad'}" for i in range(20)]
    path = tmp_path / "r.csv"
    path.write_text("\n".join(rows) + "\n")
    data = load_dataset(f"csv:{path}?text=body&label=stars", ALL)
    assert data.label_names == ("bad", "good")
    assert len(data.train.texts) == 16 and len(data.test.texts) == 4
    assert not set(data.train.ids) & set(data.test.ids)


def test_unknown_dataset_suggests() -> None:
    with pytest.raises(BenchError, match="Did you mean 'imdb'"):
        load_dataset("imbd", ALL)


def test_stratified_indices_keeps_shares() -> None:
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    idx = stratified_indices(labels, 10, np.random.default_rng(0))
    assert len(set(idx.tolist())) == 10
    assert np.bincount(labels[idx]).tolist() == [6, 3, 1]


def test_clean_text() -> None:
    assert clean_text("a<br /><br />b  c\n") == "a b c"


# --- the validation split ----------------------------------------------------------------------
def three_class_kaggle(tmp_path: Path) -> Path:
    """train.tsv: 100 rows, 50/30/20 over classes 0/1/2; test.tsv: 30 other rows."""
    labels = [0] * 50 + [1] * 30 + [2] * 20
    train = "".join(f"{y}\ttrain review {i}\n" for i, y in enumerate(labels))
    test = "".join(f"{i % 3}\ttest review {i}\n" for i in range(30))
    return kaggle_dir(tmp_path, "sentiment\treview\n" + train, "sentiment\treview\n" + test)


def test_val_is_a_stratified_seeded_carve_of_the_training_sample(tmp_path: Path) -> None:
    spec = f"kaggle:{three_class_kaggle(tmp_path)}"
    request = DataRequest(max_train=80, max_test=20, seed=1, val_share=0.25)
    data = load_dataset(spec, request)
    assert (len(data.train.texts), len(data.val.texts), len(data.test.texts)) == (60, 20, 20)
    assert not set(data.val.ids) & set(data.train.ids) and not set(data.val.ids) & set(data.test.ids)
    assert all(i.startswith("train-") for i in data.val.ids)  # file-based ids, from train.tsv
    assert data.val.texts == [f"train review {i.removeprefix('train-')}" for i in data.val.ids]
    # Stratified: each class gives its share of the 80 training rows used, within one row.
    used = np.bincount(np.concatenate([data.train.labels, data.val.labels]), minlength=3)
    assert used.tolist() == [40, 24, 16]
    assert np.all(np.abs(np.bincount(data.val.labels, minlength=3) - used * 20 / 80) <= 1)
    # Carved from the training sample: no val_share gives the same rows in train, and the same test.
    whole = load_dataset(spec, DataRequest(max_train=80, max_test=20, seed=1, val_share=0.0))
    assert sorted(whole.train.ids) == sorted(data.train.ids + data.val.ids)
    assert whole.test.ids == data.test.ids and whole.val.ids == []
    # Stable under the data seed, different under another.
    assert load_dataset(spec, request).val.ids == data.val.ids
    other = load_dataset(spec, DataRequest(max_train=80, max_test=20, seed=2, val_share=0.25))
    assert set(other.val.ids) != set(data.val.ids)


def test_val_share_zero_gives_an_empty_val(tmp_path: Path) -> None:
    data = load_dataset(f"kaggle:{three_class_kaggle(tmp_path)}", ALL)
    assert len(data.train.texts) == 100
    assert data.val.texts == [] and data.val.ids == [] and data.val.labels.dtype == np.int64


def test_val_size_rounds_half_up_keeps_one_row_and_a_training_row_per_class() -> None:
    two_each = np.array([0, 0, 1, 1])
    assert val_size(two_each, 0.0) == 0
    assert val_size(two_each, 0.01) == 1  # at least one row when val_share > 0
    assert val_size(np.repeat([0, 1], 45), 0.05) == 5  # 4.5 rounds up
    assert val_size(two_each, 0.9) == 2  # each class keeps a training row
    assert val_size(np.array([0, 1, 2]), 0.5) == 0  # nothing to spare
    with pytest.raises(BenchError, match=r"val_share must be in \[0, 1\)"):
        val_size(two_each, 1.0)


def test_a_class_with_one_row_keeps_it_for_training() -> None:
    labels = np.array([0, 0, 0, 1])
    split = Split([f"t{i}" for i in range(4)], labels, [f"row-{i}" for i in range(4)])
    for seed in range(10):
        train, val = carve_val(split, 0.5, seed)
        assert 1 in train.labels.tolist() and val.labels.tolist() == [0, 0]
        assert sorted(train.ids + val.ids) == split.ids


def test_a_val_file_is_taken_as_it_is(tmp_path: Path) -> None:
    for name, n in (("train", 20), ("test", 6), ("val", 4)):
        rows = [f"{name} {i},{'pos' if i % 2 else 'neg'}" for i in range(n)]
        (tmp_path / f"{name}.csv").write_text("text,label\n" + "\n".join(rows) + "\n")
    spec = f"csv:{tmp_path / 'train.csv'}?test={tmp_path / 'test.csv'}&val={tmp_path / 'val.csv'}"
    data = load_dataset(spec, DataRequest(None, None, val_share=0.5))  # nothing is carved
    assert len(data.train.texts) == 20 and len(data.test.texts) == 6
    assert data.val.texts == [f"val {i}" for i in range(4)]
    assert data.val.labels.tolist() == [0, 1, 0, 1] and data.label_names == ("neg", "pos")
    assert len({*data.train.ids, *data.val.ids, *data.test.ids}) == 30


def test_one_file_carves_val_from_its_80_percent(tmp_path: Path) -> None:
    path = tmp_path / "r.tsv"
    path.write_text("label\ttext\n" + "".join(f"{i % 2}\treview {i}\n" for i in range(50)))
    data = load_dataset(f"tsv:{path}", DataRequest(None, None, seed=4))
    assert (len(data.train.texts), len(data.val.texts), len(data.test.texts)) == (36, 4, 10)
    assert len({*data.train.ids, *data.val.ids, *data.test.ids}) == 50
    assert np.bincount(data.val.labels).tolist() == [2, 2]


def test_runs_ask_for_their_val_share(tmp_path: Path) -> None:
    from bench.config import RunConfig
    from bench.runs.executor import Executor

    spec = f"kaggle:{three_class_kaggle(tmp_path)}"
    runner = Executor(tmp_path / "out")
    sizes = [
        len(runner.dataset(RunConfig(model="encoder", dataset=spec, max_train=None, val_share=s)).val.ids)
        for s in (0.1, 0.0, 0.2)
    ]
    assert sizes == [10, 0, 20]


# --- JSONL and Parquet -------------------------------------------------------------------------
def write_all_formats(frame: pd.DataFrame, folder: Path, stem: str) -> dict[str, Path]:
    paths = {fmt: folder / f"{stem}.{fmt}" for fmt in ("tsv", "jsonl", "parquet")}
    frame.to_csv(paths["tsv"], sep="\t", index=False)
    frame.to_json(paths["jsonl"], orient="records", lines=True)
    frame.to_parquet(paths["parquet"], index=False)
    return paths


def assert_same(a: Dataset, b: Dataset) -> None:
    for part in ("train", "val", "test"):
        x, y = getattr(a, part), getattr(b, part)
        assert (x.texts, x.ids, x.labels.tolist()) == (y.texts, y.ids, y.labels.tolist()), part
    assert a.label_names == b.label_names


@pytest.mark.parametrize("labels", [[0, 1], [0, 1, 2], ["bad", "good"]])
def test_jsonl_and_parquet_load_like_the_same_tsv(tmp_path: Path, labels: list) -> None:
    need_module("pyarrow")
    rows = [(f'review {i}, with a comma and a "quote"', labels[i % len(labels)]) for i in range(40)]
    frame = pd.DataFrame(rows, columns=["text", "label"])
    one = write_all_formats(frame, tmp_path, "all")
    test = write_all_formats(frame.iloc[:9], tmp_path, "test")
    request = DataRequest(max_train=30, max_test=None, seed=5)
    for fmt in ("jsonl", "parquet"):
        for query in ("", "?test={}"):
            expected = load_dataset(f"tsv:{one['tsv']}{query.format(test['tsv'])}", request)
            got = load_dataset(f"{fmt}:{one[fmt]}{query.format(test[fmt])}", request)
            assert_same(got, expected)
            assert got.n_classes == len(labels) and len(got.val.ids) == 3
    assert got.label_names == tuple(str(v) for v in labels)


def test_three_class_jsonl_with_other_columns(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    lines = [json.dumps({"stars": i % 3, "body": f"review {i}", "extra": [i]}) for i in range(30)]
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n\r\n".join(lines).encode() + b"\r\n\n")  # BOM, CRLF, blanks
    data = load_dataset(f"jsonl:{path}?text=body&label=stars", ALL)
    assert data.label_names == ("0", "1", "2")
    assert (len(data.train.texts), len(data.test.texts)) == (24, 6)
    for split in (data.train, data.test):
        for text, label, id_ in zip(split.texts, split.labels, split.ids):
            assert text == f"review {id_.removeprefix('row-')}" and label == int(id_[4:]) % 3


def jsonl(tmp_path: Path, *lines: str | bytes) -> Path:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(x.encode() if isinstance(x, str) else x for x in lines) + b"\n")
    return path


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"text": "ok", "label": 1}', '{"text": "fine", "label": 0', ""], "line 2: invalid JSON"),
        (['{"text": "ok", "label": 1}', "", "[1, 2]"], "line 3: a JSON list, not an object"),
        (['{"text": "ok", "label": 1}', '{"text": "  ", "label": 0}'], "line 2: empty review"),
        (['{"text": "ok", "label": 1}', '{"label": 0}'], "line 2: empty review"),
        (['{"text": "ok", "label": 1}', '{"text": "fine"}'], "line 2: no label"),
        (['{"text": "ok", "label": 1}', '{"text": "fine", "label": null}'], "line 2: no label"),
        (
            ['{"text": "ok", "label": 1}', '{"text": "fine", "label": 0.5}'],
            "line 2: label '0.5' is not one of integers",
        ),
        (['{"text": 7, "label": 1}'], "line 1: the review is int 7, not text"),
        (['{"review": "ok", "label": 1}'], "missing column(s) 'text'; the file has 'review', 'label'"),
        (
            ['{"text": "ok", "label": 1}', b'{"text": "caf\xe9", "label": 0}'],
            "line 2: bytes that are not UTF-8",
        ),
        (["", "  "], "is empty; it needs one JSON object per line"),
    ],
)
def test_bad_jsonl_is_one_clear_error(tmp_path: Path, lines: list, message: str) -> None:
    with pytest.raises(BenchError) as info:
        load_dataset(f"jsonl:{jsonl(tmp_path, *lines)}", ALL)
    assert message in str(info.value) and "bad.jsonl" in str(info.value)
    assert "\n" not in str(info.value)


def test_an_out_of_range_label_in_a_jsonl_kaggle_like_file(tmp_path: Path) -> None:
    path = jsonl(tmp_path, '{"t": "a", "y": "1"}', '{"t": "b", "y": "x"}', '{"t": "c", "y": 2}')
    data = load_dataset(f"jsonl:{path}?text=t&label=y", ALL)  # not all integers: string labels
    assert data.label_names == ("1", "2", "x")


def test_skip_bad_rows_works_for_jsonl_and_parquet(tmp_path: Path) -> None:
    need_module("pyarrow")
    frame = pd.DataFrame({"text": ["good", " ", "bad", None, "fine", "awful"], "label": [1, 1, 0, 0, 1, 0]})
    paths = write_all_formats(frame, tmp_path, "rows")
    request = DataRequest(None, None, skip_bad_rows=True, val_share=0.0, min_class_size=1)
    for fmt in ("jsonl", "parquet"):
        data = load_dataset(f"{fmt}:{paths[fmt]}?test={paths[fmt]}", request)
        assert data.skipped_rows == 4 and data.train.texts == ["good", "bad", "fine", "awful"]


def test_bad_parquet_rows_name_the_file_and_row(tmp_path: Path) -> None:
    need_module("pyarrow")
    path = tmp_path / "r.parquet"
    pd.DataFrame({"text": ["good", "", "bad"], "label": [1, 1, 0]}).to_parquet(path)
    with pytest.raises(BenchError, match=r"r\.parquet, row 1 \(counting from 0\): empty review"):
        load_dataset(f"parquet:{path}", ALL)
    pd.DataFrame({"text": ["good", "bad"], "label": [1, 5]}).to_parquet(path)
    with pytest.raises(BenchError, match=r"missing column\(s\) 'stars'; the file has 'text', 'label'"):
        load_dataset(f"parquet:{path}?label=stars", ALL)
    path.write_text("text,label\nnot,1\n")
    with pytest.raises(BenchError, match="is not a readable Parquet file"):
        load_dataset(f"parquet:{path}", ALL)


def test_parquet_without_pyarrow_says_how_to_install_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` now raises ImportError
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(BenchError) as info:
        load_dataset(f"parquet:{tmp_path / 'r.parquet'}", ALL)
    assert "pip install 'bench[parquet]'" in str(info.value) and "\n" not in str(info.value)


def test_unknown_option_names_the_ones_there_are(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="use text=, label=, test=, val="):
        load_dataset(f"jsonl:{tmp_path / 'r.jsonl'}?txt=body", ALL)


# --- byte-order marks --------------------------------------------------------------------------
def test_a_bom_and_crlf_kaggle_folder_loads(tmp_path: Path) -> None:
    train = '\ufeffsentiment\treview\r\n2\tloved it\r\n0\t"hated,\r\nit"\r\n1\tmeh\r\n'
    test = "\ufeffsentiment\treview\r\n0\tdull\r\n2\tgreat\r\n"
    data = load_dataset(f"kaggle:{kaggle_dir(tmp_path, train, test)}", ALL)
    assert data.train.texts == ["loved it", "hated, it", "meh"] and data.train.labels.tolist() == [2, 0, 1]
    assert data.test.texts == ["dull", "great"] and data.test.labels.tolist() == [0, 2]
    assert data.train.ids == ["train-0", "train-1", "train-2"]


def test_a_bom_is_accepted_in_a_csv(tmp_path: Path) -> None:
    body = "text,label\r\n" + "".join(f"review {i},{i % 2}\r\n" for i in range(10))
    (tmp_path / "plain.csv").write_text(body, newline="")
    (tmp_path / "bom.csv").write_text(body, encoding="utf-8-sig", newline="")
    a, b = (load_dataset(f"csv:{tmp_path / name}", ALL) for name in ("bom.csv", "plain.csv"))
    assert (a.train.texts, a.train.ids, a.test.ids) == (b.train.texts, b.train.ids, b.test.ids)
    assert a.label_names == b.label_names == ("0", "1")
