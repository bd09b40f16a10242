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


def rate(fn, make, n: int, start: int) -> float:
    """Median labels/s of 3 runs, each over n labels never rendered before (no cache hits)."""
    runs = []
    for r in range(3):
        items = [make(start + r * n + i) for i in range(n)]
        t0 = time.perf_counter()
        for it in items:
            fn(it)
        runs.append(n / (time.perf_counter() - t0))
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    n = ap.parse_args().n
    tpls = labels.load_templates(labels.default_templates_dir())
    warn = ("FOR AUTOLOGOUS USE ONLY", "QUARANTINE")
    seq = iter(range(0, 900_000, 10 * n + 1000))  # a fresh block of DINs for each measurement
    for name in ("cryovial", "tube-2ml", "cryobag"):
        t = tpls[name]
        for i in range(5):  # warm up imports and fonts
            labels.render_png(content(900_000 + i), t)
        png = rate(lambda c, t=t: labels.render_png(c, t), content, n, next(seq))
        zpl = rate(lambda c, t=t: labels.render_zpl(c, t), content, n, next(seq))
        try:
            pngw = f"{rate(lambda c, t=t: labels.render_png(c, t), lambda i: content(i, warnings=warn), n, next(seq)):7.0f}"  # noqa: E501
        except ValueError:
            pngw = "refused"
        secs = []
        for _ in range(3):
            sheet = [content(i) for i in range(next(seq), next(seq) + 96)][:96]
            t0 = time.perf_counter()
            labels.render_pdf(sheet, t, layout="sheet")
            secs.append(time.perf_counter() - t0)
        secs = statistics.median(secs)
        print(f"{name:9} QR PNG {png:7.0f}/s  (2 warnings {pngw}/s)  ZPL {zpl:7.0f}/s  "
              f"96-label PDF sheet {secs:6.3f} s", flush=True)


if __name__ == "__main__":
    main()
