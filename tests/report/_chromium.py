"""Render a report page in headless Chromium (Debian's `chromium`) and read back what it shows.

The page itself holds no script. To learn whether each inline image really decoded, the test
renders a copy with one appended script that writes every image's natural size into the DOM,
then reads the DOM Chromium serialises after load (``--dump-dom``).
"""
from __future__ import annotations

import html.parser
import os
import pathlib
import shutil
import subprocess


CHROMIUM = os.environ.get("PIE_TF_CHROMIUM", "/usr/bin/chromium")
_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-extensions", "--hide-scrollbars"]
_PROBE = """<script>
for (const img of document.images) {
  img.setAttribute('data-natural',
                   img.complete ? img.naturalWidth + 'x' + img.naturalHeight : 'pending');
}
const root = document.documentElement;
document.body.setAttribute('data-scroll-width', root.scrollWidth);
document.body.setAttribute('data-client-width', root.clientWidth);
let wide = [];
for (const el of document.querySelectorAll('div.table-wrap, figure')) {
  if (el.scrollWidth > el.clientWidth + 1 || el.getBoundingClientRect().right > root.clientWidth)
    wide.push((el.closest('section') || {}).id);
}
document.body.setAttribute('data-wide', wide.join(','));
document.body.setAttribute('data-sections',
  Array.from(document.querySelectorAll('section')).map(s => s.id).join(','));
document.body.setAttribute('data-probed', 'yes');
</script>"""


def require_chromium():
    assert shutil.which(CHROMIUM) or pathlib.Path(CHROMIUM).is_file(), (
        f"{CHROMIUM} not installed (bash scripts/setup.sh installs Debian's chromium)")


def _run(args, tmp_path, timeout=60):
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.iterdir()))}"
    cmd = [CHROMIUM, *_FLAGS, f"--user-data-dir={profile}", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def dump_dom(html_path, tmp_path, window=None):
    """The DOM Chromium builds from ``html_path`` (a probed copy next to it), as a Page.

    The probe also records the page's scroll and client width (``data-scroll-width``,
    ``data-client-width``), the sections whose table or figure is wider than its box or than
    the window (``data-wide``) and the order of the sections (``data-sections``); ``window``
    is the (width, height) Chromium lays the page out in.
    """
    html_path = pathlib.Path(html_path)
    probed = html_path.with_name("_probed_" + html_path.name)
    text = html_path.read_text(encoding="utf-8")
    probed.write_text(text.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    try:
        size = [f"--window-size={window[0]},{window[1]}"] if window else []
        dom = _run([*size, "--virtual-time-budget=5000", "--dump-dom", probed.as_uri()],
                   tmp_path)
    finally:
        probed.unlink()
    page = Page()
    page.feed(dom)
    return page


def screenshot(html_path, png_path, tmp_path, size=(1200, 2400)):
    _run([f"--window-size={size[0]},{size[1]}", f"--screenshot={png_path}",
          pathlib.Path(html_path).as_uri()], tmp_path)
    return png_path


class Page(html.parser.HTMLParser):
    """Headings, table cells, images and attributes of a serialised DOM."""

    def __init__(self):
        super().__init__()
        self.headings = {"h1": [], "h2": [], "h3": []}
        self.cells = []
        self.images = []
        self.body_attrs = {}
        self.findings = []    # (attributes, text) of each finding's list item
        self._text = None
        self._tag = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "li" and "finding" in attrs.get("class", "").split():
            self._finding = (attrs, [])
        elif tag == "a" and getattr(self, "_finding", None) is not None:
            self._finding[0].setdefault("links", []).append(attrs.get("href"))
        if tag in self.headings or tag in ("td", "th"):
            self._tag, self._text = tag, []
        elif tag == "img":
            self.images.append(attrs)
        elif tag == "body":
            self.body_attrs = attrs

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)
        if getattr(self, "_finding", None) is not None:
            self._finding[1].append(data)

    def handle_endtag(self, tag):
        if tag == "li" and getattr(self, "_finding", None) is not None:
            attrs, text = self._finding
            self.findings.append((attrs, "".join(text).strip()))
            self._finding = None
        if tag == self._tag and self._text is not None:
            text = "".join(self._text).strip()
            (self.cells if tag in ("td", "th") else self.headings[tag]).append(text)
            self._tag, self._text = None, None
