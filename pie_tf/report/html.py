"""One self-contained HTML page: figures inline as base64 PNG, tables as HTML, no external resource.

The page opens from disk (``file://``) in any browser with no server, no script and no network:
styles are inline and every image is a ``data:`` URI.
"""
from __future__ import annotations

import base64
import html
import io
import re

import pandas as pd

__all__ = ["figure_png", "table_html", "page_html"]

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 1.5em auto;
       max-width: 76em; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #bbb; }
table.pie-table { border-collapse: collapse; font-size: 0.8em; margin: .5em 0 1em 0; }
div.table-wrap { overflow-x: auto; max-width: 100%; }
table.pie-table th, table.pie-table td { border: 1px solid #ccc; padding: 2px 5px;
       text-align: right; }
table.pie-table th { background: #f0f0f0; font-weight: 600; max-width: 9em;
       vertical-align: bottom; }
table.pie-table tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption, p.note { color: #555; font-size: 0.9em; }
nav.toc { font-size: 0.85em; color: #555; margin: .5em 0 1em 0; }
nav.toc a { margin-right: .9em; white-space: nowrap; }
section#findings { background: #f7f9fc; border: 1px solid #d5dde8; padding: .2em 1.2em 1em;
       margin-top: 1em; }
section#findings h2 { margin-top: .6em; }
ul.findings { margin: .2em 0 .8em 0; padding-left: 1.4em; }
li.finding { margin: .25em 0; }
li.finding.caveat { color: #7a5a00; }
a.to-table { font-size: 0.8em; color: #5577aa; text-decoration: none; }
h3.finding-variant { margin: .9em 0 .2em 0; font-size: 1.05em; }
ul.in-short { margin: .2em 0 .8em 0; padding-left: 1.4em; font-size: 1.05em; }
li.in-short { margin: .3em 0; font-weight: 600; }
a.to-variant { font-size: 0.8em; font-weight: normal; color: #5577aa; text-decoration: none; }
"""


def figure_png(fig, dpi=100):
    """PNG bytes of a matplotlib figure (the figure is closed afterwards)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


def table_html(frame, *, max_rows=40, csv_name=None, float_format="{:.4g}", note=""):
    """An HTML table of ``frame``'s first ``max_rows`` rows, saying where the full table is
    (and ``note``: what else the page left out)."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"`frame` must be a pandas DataFrame; got {type(frame).__name__}.")
    shown = frame.head(max_rows)
    def number(value):  # whole numbers (bytes, counts stored as float) in full
        if float(value).is_integer() and abs(value) < 1e12:
            return f"{value:.0f}"
        return float_format.format(value)

    body = shown.to_html(classes="pie-table", index=False, border=0, na_rep="–",
                         float_format=number, escape=True)
    # long column names may break after an underscore (the name itself is unchanged)
    body = re.sub(r"<th>([^<]*)</th>", lambda m: "<th>" + m.group(1).replace("_", "_<wbr>")
                  + "</th>", body)
    extra = f" {html.escape(note)}" if note else ""
    if len(frame) > max_rows or csv_name:
        where = f' Full table: <a href="{html.escape(csv_name)}">{html.escape(csv_name)}</a>.' \
            if csv_name else ""
        count = f"First {max_rows} of {len(frame)} rows." if len(frame) > max_rows else \
            f"{len(frame)} rows."
        extra = f'<p class="note">{count}{extra}{where}</p>'
    elif extra:
        extra = f'<p class="note">{extra.strip()}</p>'
    return f'<div class="table-wrap">{body}</div>' + extra


def page_html(title, sections, *, intro=""):
    """The whole page.

    Parameters
    ----------
    title : str
    sections : list of dict
        Each with ``id``, ``heading``, optional ``text`` (plain text, escaped), ``figures``
        (list of (png bytes, caption)) and ``tables`` (list of pre-rendered HTML strings).
    intro : str
        Plain text shown under the title.
    """
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    if intro:
        parts.extend(f"<p>{html.escape(line)}</p>" for line in intro.split("\n\n") if line)
    parts.append('<nav class="toc">' + "".join(
        f'<a href="#{s["id"]}">{html.escape(s["heading"])}</a> ' for s in sections) + "</nav>")
    for s in sections:
        parts.append(f'<section id="{s["id"]}"><h2>{html.escape(s["heading"])}</h2>')
        if s.get("text"):
            parts.extend(f"<p>{html.escape(p)}</p>" for p in s["text"].split("\n\n") if p)
        for png, caption in s.get("figures", []):
            data = base64.b64encode(png).decode("ascii")
            parts.append(f'<figure><img alt="{html.escape(caption)}" '
                         f'src="data:image/png;base64,{data}">'
                         f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        parts.extend(s.get("tables", []))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)
