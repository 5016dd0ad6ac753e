"""The Python examples of docs/audit.md run as written."""
import pathlib
import re

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "audit.md"


def test_docs_examples_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    runnable = [b for b in blocks if "store" not in b]  # the store example needs a store
    assert runnable
    namespace = {}  # the blocks read as one session: later ones use earlier names
    for block in runnable:
        exec(compile(block, str(DOC), "exec"), namespace)
    assert "prune@0.9" in capsys.readouterr().out
