"""Dataset loaders, one per file: a function `(arg, request) -> Dataset` with
`@DATASETS.register("name")` (bench.data), served as `--dataset name` or `--dataset name:ARG`.
`rows.py` holds what the file loaders share."""
