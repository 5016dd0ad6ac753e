"""BUILD is evaluated (it is Starlark, a Python subset) against the tree, so it cannot rot."""
import fnmatch
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _glob(patterns, exclude=()):
    files = set()
    for pattern in patterns:
        files.update(str(p.relative_to(ROOT)) for p in ROOT.glob(pattern) if p.is_file())
    files = {f for f in files if not any(fnmatch.fnmatch(f, e) for e in exclude)}
    return sorted(f for f in files if "__pycache__" not in f)


def _evaluate_build():
    targets = {}

    def rule(kind):
        def make(name, **kwargs):
            assert name not in targets, f"duplicate target {name}"
            targets[name] = dict(kind=kind, **kwargs)
        return make

    env = {
        "glob": _glob,
        "package": lambda **kw: None,
        "py_library": rule("py_library"),
        "py_test": rule("py_test"),
        "py_binary": rule("py_binary"),
    }
    exec(compile((ROOT / "BUILD").read_text(), "BUILD", "exec"), env)
    return targets


def test_every_file_is_declared_and_every_reference_exists():
    targets = _evaluate_build()
    library = set(targets["pie_tf"]["srcs"])
    package_files = {str(p.relative_to(ROOT)) for p in (ROOT / "pie_tf").rglob("*.py")}
    assert package_files and package_files <= library

    tests = {t["args"][0] for t in targets.values() if t["kind"] == "py_test"}
    assert {str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py")} == tests
    binaries = {t["main"] for t in targets.values() if t["kind"] == "py_binary"}
    scripts = {str(p.relative_to(ROOT)) for d in ("experiments", "benchmarks")
               for p in (ROOT / d).glob("*.py")}
    assert scripts == binaries

    for name, target in targets.items():
        for src in target.get("srcs", []) + [target.get("main")] * ("main" in target):
            assert (ROOT / src).is_file(), f"{name}: {src} does not exist"
        for dep in target.get("deps", []):
            assert dep.startswith(":") and dep[1:] in targets, f"{name}: unknown dep {dep}"

