"""Pictures drawn by the server as SVG text: the lineage tree, the state machine and the
throughput chart. Plain strings, escaped; no script, no inline style (the page's CSP)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from html import escape
from typing import Any

from lims.domain.states import DERIVABLE_STATES, NON_FINAL, State
from lims.domain.workflow import TRANSITIONS

NODE_W, NODE_H, COL_W, ROW_H = 138, 46, 156, 56


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _svg(width: float, height: float, label: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="{_e(label)}" '
            f'class="diagram"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
            f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>'
            + "".join(body) + "</svg>")


# --- lineage ------------------------------------------------------------------------------

def lineage(donor: dict[str, Any], collection: dict[str, Any], tree: list[dict[str, Any]],
            current_id: str) -> str:
    """Donor -> collection -> every sample of the collection, left to right, each sample
    a link to its page. `tree`: [{"sample": {...id, code, kind, state}, "children": [...]}]."""
    placed: list[tuple[int, float, dict[str, Any], str | None]] = []  # depth, y, node, parent
    next_row = [0]

    def place(node: dict[str, Any], depth: int, parent: str | None) -> float:
        ys = [place(c, depth + 1, node["sample"]["id"]) for c in node["children"]]
        if ys:
            y = sum(ys) / len(ys)
        else:
            y = next_row[0] * ROW_H
            next_row[0] += 1
        placed.append((depth, y, node["sample"], parent))
        return y

    roots = [place(n, 2, "collection") for n in tree]
    top = sum(roots) / len(roots) if roots else 0.0
    rows = max(next_row[0], 1)
    width = COL_W * (max((d for d, *_ in placed), default=2) + 1) + 8
    height = rows * ROW_H + 8
    pos: dict[str, tuple[float, float]] = {"donor": (4, top + 4),
                                           "collection": (4 + COL_W, top + 4)}
    for depth, y, s, _ in placed:
        pos[s["id"]] = (4 + depth * COL_W, y + 4)
    body: list[str] = []
    edges = [("donor", "collection")] + [(p, s["id"]) for _, _, s, p in placed if p]
    for a, b in edges:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        x1, y1, y2 = x1 + NODE_W, y1 + NODE_H / 2, y2 + NODE_H / 2
        mid = (x1 + x2) / 2
        body.append(f'<path class="edge" d="M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} '
                    f'{mid:.0f},{y2:.0f} {x2:.0f},{y2:.0f}" marker-end="url(#arrow)"/>')

    def box(key: str, href: str | None, title: str, line1: str, line2: str, cls: str) -> str:
        x, y = pos[key]
        inner = (f'<title>{_e(title)}</title><rect x="{x:.0f}" y="{y:.0f}" width="{NODE_W}" '
                 f'height="{NODE_H}" rx="6" class="node {cls}"/>'
                 f'<text x="{x + 8:.0f}" y="{y + 19:.0f}" class="node-title">{_e(line1)}</text>'
                 f'<text x="{x + 8:.0f}" y="{y + 36:.0f}" class="node-sub">{_e(line2)}</text>')
        if href:
            return f'<a href="{_e(href)}" class="lineage-node" data-sample="{_e(key)}">{inner}</a>'
        return f"<g>{inner}</g>"

    body.append(box("donor", None, f"Donor {donor['code']}", f"Donor {donor['code']}",
                    donor["donor_type"], "node-donor"))
    body.append(box("collection", None, f"Collection {collection['din']}",
                    f"DIN {collection['din']}", collection["source"].replace("_", " "),
                    "node-collection"))
    for _, _, s, _ in placed:
        cls = f"state-{s['state']}" + (" current" if s["id"] == current_id else "")
        # The DIN is the collection's (shown once): each tube shows product and division.
        short = " ".join(s["code"].split("-")[1:]) or s["code"]
        body.append(box(s["id"], f"/samples/{s['id']}",
                        f"{s['code']}: {s['kind']}, {s['state']}", short,
                        f"{s['kind']} · {s['state'].replace('_', ' ')}", cls))
    return _svg(width, height, "Lineage from the donor to every derivative", body)


# --- the state machine --------------------------------------------------------------------

def _everywhere(sources: frozenset[State]) -> bool:
    return sources in (NON_FINAL, DERIVABLE_STATES)


def workflow() -> str:
    """States placed by their distance from `registered`; one arrow per (from, to) pair,
    labelled with the events of the table. Events from every live state are listed below."""
    edges: dict[tuple[State, State], list[str]] = {}
    for t in TRANSITIONS:
        if t.target is None or _everywhere(t.sources):
            continue
        for s in sorted(t.sources):
            edges.setdefault((s, t.target), []).append(t.event)
    rank = {State.registered: 0}
    todo = deque([State.registered])
    while todo:
        s = todo.popleft()
        for (a, b) in edges:
            if a == s and b not in rank:
                rank[b] = rank[s] + 1
                todo.append(b)
    last = max(rank.values())
    for s in State:  # reached only by events from everywhere: below the last column
        rank.setdefault(s, last)
    rows: dict[int, list[State]] = {}
    for s in State:
        rows.setdefault(rank[s], []).append(s)
    # Top to bottom, one row per distance from `registered`: labels get the room between.
    w, h, cw, rh = 150, 38, 200, 104
    widest = max(len(r) for r in rows.values())
    pos = {s: (30 + (widest - len(row)) * cw / 2 + i * cw, 10.0 + r * rh)
           for r, row in rows.items() for i, s in enumerate(row)}
    width = 40 + widest * cw
    height = 34 + (last + 1) * rh + 40
    body: list[str] = []
    labels: list[str] = []
    for (a, b), events in edges.items():
        (x1, y1), (x2, y2) = pos[a], pos[b]
        if rank[b] > rank[a]:
            sx, sy, ex, ey = x1 + w / 2, y1 + h, x2 + w / 2, float(y2)
            d = f"M{sx},{sy} C{sx},{(sy + ey) / 2} {ex},{(sy + ey) / 2} {ex},{ey}"
            lx, ly = (sx + ex) / 2, (sy + ey) / 2
        elif rank[b] == rank[a]:  # side by side: a straight arrow, its label above
            left = x1 < x2
            sx, ex = (x1 + w, x2) if left else (x1, x2 + w)
            sy = ey = y1 + h / 2
            d = f"M{sx},{sy} L{ex},{ey}"
            lx, ly = (sx + ex) / 2, sy - 12
        else:  # back up: an arc out to the side
            sx, sy, ex, ey = x1, y1 + h / 2, x2, y2 + h / 2
            out = min(sx, ex) - 40
            d = f"M{sx},{sy} C{out},{sy} {out},{ey} {ex},{ey}"
            lx, ly = out + 10, (sy + ey) / 2
        body.append(f'<path class="edge" d="{d}" marker-end="url(#arrow)">'
                    f'<title>{_e(a)} to {_e(b)}: {_e(", ".join(events))}</title></path>')
        text = ", ".join(events)
        tw = 6.4 * len(text) + 8
        labels.append(f'<rect class="edge-label-bg" x="{lx - tw / 2:.0f}" y="{ly - 11:.0f}" '
                      f'width="{tw:.0f}" height="16" rx="3"/>'
                      f'<text class="edge-label" x="{lx:.0f}" y="{ly + 1:.0f}" '
                      f'text-anchor="middle">{_e(text)}</text>')
    body += labels
    for s, (x, y) in pos.items():
        final = "final" if s not in NON_FINAL else ""
        body.append(f'<g class="state {final}" data-state="{s.value}"><rect x="{x:.0f}" '
                    f'y="{y}" width="{w}" height="{h}" rx="18" class="node state-{s.value}"/>'
                    f'<text x="{x + w / 2:.0f}" y="{y + 24}" text-anchor="middle" '
                    f'class="node-title">{_e(s.value.replace("_", " "))}</text></g>')
    everywhere = [t for t in TRANSITIONS if _everywhere(t.sources)]
    body.append(f'<text x="10" y="{height - 26}" class="note">Not drawn as arrows:</text>')
    for i, t in enumerate(everywhere):
        where = "from any live state" if t.sources == NON_FINAL else "from material being derived"
        body.append(f'<text x="{10 + (i % 2) * width / 2:.0f}" y="{height - 10 + (i // 2) * 14}"'
                    f' class="note">{_e(t.event)} ({where})</text>')
    return _svg(width, height, "The sample state machine, drawn from the transition table", body)


# --- throughput ---------------------------------------------------------------------------

def throughput(days: Sequence[dict[str, Any]], events: Sequence[str]) -> str:
    """Stacked bars per day (one colour per event), with the numbers as text for readers."""
    width, height, left, bottom, top = 980, 220, 40, 40, 16
    peak = max([sum(d[e] for e in events) for d in days] + [1])
    bar = (width - left - 10) / max(len(days), 1)
    plot = height - bottom - top
    body = [f'<line class="axis" x1="{left}" y1="{height - bottom}" x2="{width - 10}" '
            f'y2="{height - bottom}"/>',
            f'<text class="tick" x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
            f'<text class="tick" x="{left - 6}" y="{height - bottom}" text-anchor="end">0</text>']
    for i, d in enumerate(days):
        x = left + i * bar + 3
        y = height - bottom
        parts = []
        for e in events:
            n = d[e]
            if not n:
                continue
            hgt = plot * n / peak
            y -= hgt
            body.append(f'<rect class="bar ev-{e}" x="{x:.1f}" y="{y:.1f}" '
                        f'width="{bar - 6:.1f}" height="{hgt:.1f}"/>')
            parts.append(f"{n} {e}")
        body.append(f'<rect class="hit" x="{x:.1f}" y="{top}" width="{bar - 6:.1f}" '
                    f'height="{plot}"><title>{_e(d["day"])}: '
                    f'{_e(", ".join(parts) or "nothing")}</title></rect>')
        if len(days) <= 16 or i % 2 == 0:
            body.append(f'<text class="tick" x="{x + (bar - 6) / 2:.1f}" y="{height - bottom + 16}"'
                        f' text-anchor="middle">{_e(d["day"][5:])}</text>')
    for j, e in enumerate(events):
        x = left + j * 150
        body.append(f'<rect class="bar ev-{e}" x="{x}" y="{height - 14}" width="12" height="12"/>'
                    f'<text class="tick" x="{x + 16}" y="{height - 4}">{_e(e)}</text>')
    return _svg(width, height, "Throughput per day", body)
