"""Fuzzing the dataset loaders with generated CSV, TSV, JSONL and Kaggle files: NULs, lone surrogates,
long reviews, quotes and separators inside reviews, missing, duplicated and extra columns, a header
repeated as a row, rows with a field too many or too few, truncated files, odd encodings, odd labels.

Every file ends as a Dataset or as a BenchError of one line, and the loader changes nothing on disk.
Where a file is known to be wrong in a way the loader must see (a class smaller than asked, a header
repeated, a column twice, a test label the training file lacks), accepting it fails the test: that is
what "silently wrong" means here. Minimal inputs hypothesis found are kept as explicit regression
tests at the end.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from random import Random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.config import DEFAULT_MIN_CLASS_SIZE
from bench.data import DataRequest, Dataset, clean_text, load_dataset
from bench.errors import BenchError
from tests.fuzzing import assert_nothing_lost, examples, outcome, snapshot

SPECIAL_PIECES = [",", "\t", '"', "\n", "\r", "\x00", "\ufeff", "é", "\ud83d", "<br />", " ", "'", "\\", "💬"]
PLAIN = ["great film", "awful", "fine, really", "meh", 'a "quoted" word', "tabs\tand\nlines", "ok<br />ok"]
LONG_REVIEW = "a long review " * 10_000  # 140,000 characters: past the csv module's 131,072 limit
ODD_LABELS = [
    "", " ", "label", "sentiment", "0.5", "1.0", "+1", "01", "-1", "x", "Pos",
    str(2**63), str(2**64 + 1), "9" * 4400,  # past int64, and past Python's 4,300-digit conversion
]  # fmt: skip
INTEGER = re.compile(r"([+-]?)0*([0-9]+?)(?:\.0*)?")
NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
# Structure and cells are drawn from a Random that hypothesis seeds (so a run is repeatable): the odd
# cases come at the rates asked, where hypothesis's own draws favour the edges.
RANDOMS = st.randoms(use_true_random=True)


@dataclass
class Table:
    """A generated file's content before it is written, and what the writing did to it."""

    header: list[str]
    rows: list[list[str]]
    text_col: str
    label_col: str
    clean: bool = True  # written exactly, UTF-8: the oracle below knows what the loader must say
    known_wrong: list[str] = field(default_factory=list)  # why the loader must refuse it


def review(rng: Random, odd: float) -> str:
    """A review: a plain one, or at rate `odd` pieces of odd text (NULs, quotes, separators, a lone
    surrogate, characters from anywhere in Unicode)."""
    if rng.random() >= odd:
        return rng.choice(PLAIN)
    pieces = [
        rng.choice(SPECIAL_PIECES) if rng.random() < 0.5 else _character(rng)
        for _ in range(rng.randint(0, 12))
    ]
    return "".join(pieces)


def _character(rng: Random) -> str:
    code = rng.randint(32, 0x2FFFF)
    return chr(code) if not 0xD800 <= code <= 0xDFFF else "?"


def label(rng: Random, base: list[str], odd: float) -> str:
    return rng.choice(ODD_LABELS) if rng.random() < odd else rng.choice(base)


def tables(rng: Random, base: list[str], columns: tuple[str, str] = ("text", "label")) -> Table:
    text_col, label_col = columns
    n = rng.randint(12, 30) if rng.random() < 0.85 else rng.randint(0, 11)
    odd = rng.choice([0.0, 0.0, 0.02, 0.2])  # most files hold no odd cell, some a few, some many
    rows = [[review(rng, odd), label(rng, base, odd / 2)] for _ in range(n)]
    if rows and rng.random() < 0.1:
        rows[rng.randrange(len(rows))][0] = LONG_REVIEW
    table = Table([text_col, label_col], rows, text_col, label_col)
    if rng.random() < 0.2:  # columns the loader does not read, some named as it names its own, or twice
        for extra in rng.sample(
            ["id", "_part", "_where", "where", "part", "", "text", "label"], rng.randint(1, 2)
        ):
            at = rng.randint(0, len(table.header))
            if extra in table.header and extra:
                table.known_wrong.append(f"the column {extra!r} twice")
            table.header.insert(at, extra)
            for row in table.rows:
                row.insert(at, rng.choice(["", "7", "x"]))
    if rng.random() < 0.05:  # a column the loader needs, gone
        gone = rng.choice([text_col, label_col])
        at = table.header.index(gone)
        del table.header[at]
        for row in table.rows:
            del row[at]
        table.known_wrong.append(f"no {gone} column")
    return table


def canonical(label: str, all_integers: bool) -> str:
    if not all_integers:
        return label
    sign, digits = INTEGER.fullmatch(label).groups()  # type: ignore[union-attr]
    return f"-{digits}" if sign == "-" and digits != "0" else digits


def must_refuse(
    train: Table, test: Table | None, min_class_size: int, known: set[str] | None = None
) -> str | None:
    """Why a loader must refuse these (exactly written) files, or None where it may accept them."""
    wrong = train.known_wrong + (test.known_wrong if test else [])
    if wrong:
        return wrong[0]
    parts = [train] + ([test] if test else [])
    if any(t.text_col not in t.header or t.label_col not in t.header for t in parts):
        return "a column missing"
    texts = {id(t): [r[t.header.index(t.text_col)] for r in t.rows] for t in parts}
    labels = {id(t): [r[t.header.index(t.label_col)].strip() for r in t.rows] for t in parts}
    every = [x for t in parts for x in labels[id(t)]]
    if any(not clean_text(x) for t in parts for x in texts[id(t)]) or not every or any(not x for x in every):
        return None  # an empty review or label: refused, but for a reason the loader names itself
    if any(t.header.count("") > 1 for t in parts):
        return None
    integers = all(INTEGER.fullmatch(x) for x in every)
    if known is not None and not (integers and {canonical(x, True) for x in every} <= known):
        return "a label outside the data set's classes"
    if all(NUMBER.fullmatch(x) for x in every) and not integers:
        return "a fractional label among numbers"
    train_classes = Counter(canonical(x, integers) for x in labels[id(train)])
    for name in known or ():
        train_classes.setdefault(name, 0)
    small = [name for name, n in train_classes.items() if n < min_class_size]
    if small:
        return f"the class {small[0][:20]!r} has {train_classes[small[0]]} rows"
    if test is not None and not {canonical(x, integers) for x in labels[id(test)]} <= set(train_classes):
        return "a test label the training file lacks"
    return None


def delimited_bytes(rng: Random, table: Table, sep: str) -> bytes:
    """The table as a delimited file: quoted by the csv module or joined naively, maybe with the
    header repeated, a field too many or too few, line ends CRLF, odd encodings, a truncation."""
    records = [table.header, *table.rows]
    if table.rows and rng.random() < 0.05:
        records.insert(rng.randint(2, len(records)), list(table.header))
        table.known_wrong.append("the header repeated as a row")
    if len(records) > 1 and rng.random() < 0.05:
        row = records[rng.randint(1, len(records) - 1)]
        row.append("extra") if rng.random() < 0.5 else row.pop()
        table.known_wrong.append("a row with a field too many or too few")
    ending = rng.choice(["\n", "\r\n"])
    if rng.random() < 0.1:
        text = ending.join(sep.join(r) for r in records) + ending  # no quoting
        table.clean = False
    else:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=sep, lineterminator=ending).writerows(records)
        text = buffer.getvalue()
    encoding = "utf-8" if rng.random() < 0.85 else rng.choice(["utf-8-sig", "utf-16", "latin-1", "cp1252"])
    if encoding not in ("utf-8", "utf-8-sig"):
        table.clean = False
    data = text.encode(encoding, errors="surrogatepass" if encoding.startswith("utf-8") else "replace")
    return mutate_bytes(rng, data, table)


def mutate_bytes(rng: Random, data: bytes, table: Table) -> bytes:
    """Now and then a byte-level accident: a truncation, a byte changed, no final newline, a NUL."""
    if rng.random() < 0.85 or not data:
        return data
    table.clean = False
    what, at = rng.choice(["truncate", "flip", "no final newline", "nul"]), rng.randrange(len(data))
    if what == "truncate":
        return data[:at]
    if what == "flip":
        return data[:at] + bytes([rng.randrange(256)]) + data[at + 1 :]
    if what == "nul":
        return data[:at] + b"\x00" + data[at:]
    return data.rstrip(b"\r\n")


def check_dataset(data: Dataset) -> None:
    """What any accepted dataset must be: classes, labels in range, texts that are text, ids unique."""
    assert data.n_classes >= 2 and len(set(data.label_names)) == data.n_classes
    ids: list[str] = []
    for split in (data.train, data.val, data.test):
        assert len(split.texts) == len(split.labels) == len(split.ids)
        assert all(isinstance(t, str) and t and t.encode("utf-8") for t in split.texts)
        assert np.all((split.labels >= 0) & (split.labels < data.n_classes))
        ids += split.ids
    assert len(ids) == len(set(ids))
    assert len(data.train.texts) >= 1


def run_loader(
    kind: str, files: dict[str, bytes], spec: str, request: DataRequest, reason: str | None
) -> object:
    """Write the files in a fresh folder, load `spec` (with {dir} for the folder), check the outcome."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, data in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        before = snapshot(folder)
        result = outcome(kind, lambda: load_dataset(spec.format(dir=folder), request))
        assert_nothing_lost(before, snapshot(folder))
        if isinstance(result, Dataset):
            assert reason is None, f"accepted although it has {reason}"
            check_dataset(result)
        return result


REQUESTS = st.builds(
    lambda skip, size, share: DataRequest(None, None, 0, skip, share, size),
    st.booleans(),
    st.sampled_from([0, 1, 2, 5]),
    st.sampled_from([0.0, 0.1]),
)


@examples(ci=40, long=1500)
@given(rng=RANDOMS, sep=st.sampled_from([",", "\t"]), request=REQUESTS)
def test_delimited_files_load_or_fail_in_one_line(rng: Random, sep: str, request: DataRequest) -> None:
    base = rng.choice([["0", "1"], ["0", "1", "2"], ["neg", "pos"]])
    train = tables(rng, base)
    files = {"train.txt": delimited_bytes(rng, train, sep)}
    test = None
    if rng.random() < 0.3:  # a test file, labelled like the training file or not
        test = tables(rng, base if rng.random() < 0.7 else rng.choice([["neg", "pos"], ["0", "1"]]))
        files["test.txt"] = delimited_bytes(rng, test, sep)
    scheme = "csv" if sep == "," else "tsv"
    spec = f"{scheme}:{{dir}}/train.txt" + ("?test={dir}/test.txt" if test else "")
    clean = train.clean and (test is None or test.clean)
    reason = must_refuse(train, test, request.min_class_size) if clean else None
    run_loader(f"dataset file: {scheme}", files, spec, request, reason)


def jsonl_bytes(rng: Random, table: Table) -> bytes:
    """The table as JSON lines: integer labels as numbers or strings, lone surrogates escaped or raw,
    maybe a key twice, a line nested 100,000 deep, a number of 5,000 digits, a list, a line cut short."""
    ascii_only = rng.random() < 0.5
    lines = []
    for row in table.rows:
        record: dict[str, object] = dict(zip(table.header, row))
        value = record.get(table.label_col)
        if isinstance(value, str) and value.isdigit() and len(value) < 30 and rng.random() < 0.5:
            record[table.label_col] = int(value)
        lines.append(json.dumps(record, ensure_ascii=ascii_only))
    if lines and rng.random() < 0.1:
        table.clean = False
        at = rng.randrange(len(lines))
        lines[at] = rng.choice(
            [
                '{"text": "a", "text": "b", "label": 0}',
                DEEP.strip(),
                HUGE.strip(),
                "[1, 2]",
                lines[at][: len(lines[at]) // 2],
            ]
        )
    if len(set(table.header)) < len(table.header):
        table.clean = False  # a key twice: json.dumps keeps one, which the oracle does not model
    text = "\n".join(lines) + rng.choice(["\n", "", "\n\n"])
    return mutate_bytes(rng, text.encode("utf-8", errors="surrogatepass"), table)


@examples(ci=40, long=1500)
@given(rng=RANDOMS, request=REQUESTS)
def test_jsonl_files_load_or_fail_in_one_line(rng: Random, request: DataRequest) -> None:
    train = tables(rng, rng.choice([["0", "1"], ["neg", "pos", "neutral"]]))
    payload = jsonl_bytes(rng, train)
    surrogate = any("\ud83d" in cell for row in train.rows for cell in row)
    reason = must_refuse(train, None, request.min_class_size) if train.clean and not surrogate else None
    run_loader("dataset file: jsonl", {"rows.jsonl": payload}, "jsonl:{dir}/rows.jsonl", request, reason)


@examples(ci=30, long=1000)
@given(rng=RANDOMS, request=REQUESTS)
def test_kaggle_folders_load_or_fail_in_one_line(rng: Random, request: DataRequest) -> None:
    columns = ("review", "sentiment")
    train, test = tables(rng, ["0", "1", "2"], columns), tables(rng, ["0", "1", "2"], columns)
    files = {"train.tsv": delimited_bytes(rng, train, "\t"), "test.tsv": delimited_bytes(rng, test, "\t")}
    reason = None
    if train.clean and test.clean:
        reason = must_refuse(train, test, request.min_class_size, known={"0", "1", "2"})
    run_loader("dataset file: kaggle", files, "kaggle:{dir}", request, reason)


# --- minimal failing inputs the fuzzing found, kept as regression tests ---------------------------
def write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data.encode("utf-8", errors="surrogatepass") if isinstance(data, str) else data)
    return path


ANY_CLASS = DataRequest(None, None, val_share=0.0, min_class_size=0)
RUN_DEFAULT = DataRequest(None, None, min_class_size=DEFAULT_MIN_CLASS_SIZE)  # what `bench run` asks
TEN = "".join(f"review {i},{i % 2}\n" for i in range(10))


DEEP = '{"text": "a", "label": 0, "x": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
HUGE = '{"text": "a", "label": 1' + "0" * 5000 + "}\n"
TYPO = "text,label\n" + "".join(f"r{i},0\nr{i},1\n" for i in range(6)) + "r,O\n"
FOUND = [
    ("a.csv", "text,label,text\nx,0,y\n", "the column 'text' appears twice in the header (fields 1 and 3)"),
    ("a.csv", "text,label,label\nx,0,1\n", "the column 'label' appears twice"),
    ("a.csv", "text,label\n" + TEN + "text,label\n" + TEN, "line 12: the header again, as a data row"),
    ("a.jsonl", '{"text": "good \\ud83d film", "label": 0}\n', "line 1: the review holds a lone surrogate"),
    ("a.jsonl", HUGE, "line 1: a number too long to read"),
    ("a.jsonl", DEEP, "line 1: JSON nested too deep"),
    ("a.jsonl", '{"text": "a", "text": "b", "label": 0}\n', "line 1: the key 'text' appears twice"),
    ("a.csv", b"t\x00e\x00x\x00t\x00", "line 1: a NUL byte; is the file UTF-16 without a byte-order mark"),
    ("a.csv", TYPO, "line 14: the class 'O' has 1 training row, fewer than 5"),
]


@pytest.mark.parametrize(("name", "body", "message"), FOUND)
def test_found_by_fuzzing_one_line(tmp_path: Path, name: str, body: str | bytes, message: str) -> None:
    path = write(tmp_path, name, body)
    with pytest.raises(BenchError) as info:
        load_dataset(f"{path.suffix[1:]}:{path}", RUN_DEFAULT)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_column_named_part_is_an_extra_column(tmp_path: Path) -> None:
    body = "_part,text,label,_where\n" + "".join(f"p,review {i},{i % 2},w\n" for i in range(20))
    data = load_dataset(f"csv:{write(tmp_path, 'a.csv', body)}", ANY_CLASS)
    assert data.label_names == ("0", "1") and len(data.train.texts) + len(data.test.texts) == 20


def test_labels_past_int64_keep_their_digits(tmp_path: Path) -> None:
    big, bigger = 2**63, 2**64 + 1
    body = "text,label\n" + "".join(f"r{i},{(big, bigger)[i % 2]}\n" for i in range(10))
    data = load_dataset(f"csv:{write(tmp_path, 'a.csv', body)}", ANY_CLASS)
    assert data.label_names == (str(big), str(bigger))


def test_a_label_of_over_4300_digits_is_a_class(tmp_path: Path) -> None:
    long = "9" * 4400
    body = "text,label\n" + "".join(f"r{i},{(long, '1')[i % 2]}\n" for i in range(10))
    data = load_dataset(f"csv:{write(tmp_path, 'a.csv', body)}", ANY_CLASS)
    assert data.label_names == ("1", long)


@pytest.mark.parametrize("scheme", ["csv", "tsv", "jsonl"])
def test_a_review_past_the_csv_field_limit_loads_in_every_format(tmp_path: Path, scheme: str) -> None:
    rows = [(LONG_REVIEW if i == 0 else f"review {i}", i % 2) for i in range(10)]
    if scheme == "jsonl":
        body = "".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in rows)
    else:
        sep = "," if scheme == "csv" else "\t"
        body = f"text{sep}label\n" + "".join(f"{t}{sep}{y}\n" for t, y in rows)
    data = load_dataset(f"{scheme}:{write(tmp_path, 'a.' + scheme, body)}", ANY_CLASS)
    assert max(len(t) for t in data.train.texts + data.test.texts) == len(LONG_REVIEW.strip())


def test_test_labels_the_training_file_lacks_are_refused(tmp_path: Path) -> None:
    train = write(tmp_path, "train.csv", "text,label\n" + "".join(f"r{i},{i % 2}\n" for i in range(10)))
    test = write(
        tmp_path, "test.csv", "text,label\n" + "".join(f"t{i},{('neg', 'pos')[i % 2]}\n" for i in range(4))
    )
    with pytest.raises(
        BenchError, match=r"test\.csv, line 2: label 'neg' is not a class of the training file"
    ):
        load_dataset(f"csv:{train}?test={test}", RUN_DEFAULT)


def test_a_kaggle_file_missing_a_class_is_refused_unless_asked(tmp_path: Path) -> None:
    body = "sentiment\treview\n" + "".join(f"{i % 2}\treview {i}\n" for i in range(12))
    for name in ("train.tsv", "test.tsv"):
        write(tmp_path, name, body)
    with pytest.raises(
        BenchError, match=r"train\.tsv: no training row has the class '2'.*--min-class-size 0"
    ):
        load_dataset(f"kaggle:{tmp_path}", RUN_DEFAULT)
    assert load_dataset(f"kaggle:{tmp_path}", ANY_CLASS).n_classes == 3
