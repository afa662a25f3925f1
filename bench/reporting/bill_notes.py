"""What the reader of a report's bill must know: devices the prices leave out, and serving timed at
different batches. Reads results rows only (bench.reporting.data's `results`)."""

from __future__ import annotations

import pandas as pd

from bench.config import CostSettings
from bench.costs.bill import device_price


def cost_notes(results: pd.DataFrame, cost: str, costing: CostSettings) -> list[str]:
    """Notes for a report judged on `cost` with `costing`: devices without a price (their runs have no
    dollars), and, on the serving axes, serving timed at different batches."""
    notes = []
    ok = results[(results["status"] == "ok") & ~results["sweep"]]
    if costing.priced and "device" in ok:
        unpriced = sorted({str(d) for d in ok["device"].dropna() if device_price(d, costing) is None})
        if unpriced:
            notes.append(
                f"No price for {', '.join(unpriced)} (--price DEVICE=USD_PER_HOUR): their runs have no "
                "dollars, and no total cost."
            )
    batches = ok.groupby("entry")["serve_batch"].first().dropna() if "serve_batch" in ok else pd.Series()
    if cost in ("serving", "total") and batches.nunique() > 1 and costing.serve_batch is None:
        timed = ", ".join(f"{e} {int(b)}" for e, b in batches.items())
        notes.append(
            f"Serving was timed at each run's own batch ({timed}): `bench run --serve-batch N` times every "
            "model at one batch, and `bench report --serve-batch N` judges only the runs timed at N."
        )
    return notes
