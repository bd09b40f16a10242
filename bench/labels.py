"""Label rendering speed: labels/s for QR PNG and ZPL, seconds for a 96-label PDF sheet.

    python bench/labels.py [--n 200]

Pure rendering (no database, no HTTP). Prints medians of 3 runs; asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from dataclasses import fields
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lims import labels  # noqa: E402
from lims.domain.isbt import check_character, label_payload  # noqa: E402


def content(seq: int, *, warnings: tuple[str, ...] = ()) -> labels.LabelContent:
    din = f"W999926{seq:06d}"
    kw: dict = {"payload": label_payload(din, "S1102", "1", "A0"),
                "identifier": f"W9999 26 {seq:06d}", "check": check_character(din),
                "product": "MSC(AT)", "product_code": "S11021A0", "donor_code": "AT-26-0042",
                "collection_date": dt.date(2026, 11, 20), "warnings": warnings}
    names = {f.name for f in fields(labels.LabelContent)}
    expiry = dt.datetime(2031, 11, 20, 10, 5, tzinfo=ZoneInfo("Europe/Berlin"))
    kw["expiry"] = expiry if "facility" in names else expiry.date()  # new API takes a time
    return labels.LabelContent(**kw)


def rate(fn, items) -> float:
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        for it in items:
            fn(it)
        runs.append(len(items) / (time.perf_counter() - t0))
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    n = ap.parse_args().n
    tpls = labels.load_templates(labels.default_templates_dir())
    batch = [content(i + 1) for i in range(n)]
    warned = [content(i + 1, warnings=("FOR AUTOLOGOUS USE ONLY", "QUARANTINE"))
              for i in range(n)]
    for name in ("cryovial", "tube-2ml", "cryobag"):
        t = tpls[name]
        for c in batch[:5]:
            labels.render_png(c, t)
        png = rate(lambda c, t=t: labels.render_png(c, t), batch)
        zpl = rate(lambda c, t=t: labels.render_zpl(c, t), batch)
        try:
            pngw = f"{rate(lambda c, t=t: labels.render_png(c, t), warned):7.0f}"
        except ValueError:
            pngw = "refused"
        sheet = batch[:96]
        secs = statistics.median(
            [(lambda t0: (labels.render_pdf(sheet, t, layout="sheet"),
                          time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(3)])
        print(f"{name:9} QR PNG {png:7.0f}/s  (2 warnings {pngw}/s)  ZPL {zpl:7.0f}/s  "
              f"96-label PDF sheet {secs:6.3f} s")


if __name__ == "__main__":
    main()
