from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.data import DataRequest, clean_text, load_dataset, stratified_indices
from bench.errors import BenchError

ALL = DataRequest(max_train=None, max_test=None)


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
    sub = load_dataset(f"kaggle:{tmp_path}", DataRequest(max_train=200, max_test=50))
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
    request = DataRequest(None, None, skip_bad_rows=True)
    data = load_dataset(f"kaggle:{kaggle_dir(tmp_path, body)}", request)
    assert data.skipped_rows == 2  # one in train.tsv, one in test.tsv
    assert data.train.texts == ["ok", "bad"]


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="is not a folder"):
        load_dataset(f"kaggle:{tmp_path / 'nope'}", ALL)


def test_imdb_split_is_stratified_disjoint_and_deterministic() -> None:
    request = DataRequest(max_train=300, max_test=100, seed=3)
    a, b = load_dataset("imdb", request), load_dataset("imdb", request)
    assert a.train.ids == b.train.ids and a.test.ids == b.test.ids
    assert not set(a.train.ids) & set(a.test.ids)
    assert np.bincount(a.train.labels).tolist() == [150, 150]
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
