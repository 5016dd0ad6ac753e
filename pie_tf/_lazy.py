"""Public names of a package that load on first use (PEP 562), so importing it stays cheap."""
from __future__ import annotations

import importlib
import sys

__all__ = ["lazy_names"]


def lazy_names(package: str, modules: dict):
    """``(__all__, __getattr__, __dir__)`` for ``package``, whose public names load on first use.

    ``modules`` maps each defining module to the public names it holds; a name equal to the
    module's own last component stands for the module itself (``"pie_tf.compress.mitigation":
    ["mitigation"]``). A loaded name is cached in the package's namespace, so ``__getattr__``
    runs once per name.
    """
    api = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name):
        if name not in api:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(api[name])
        value = module if api[name].rsplit(".", 1)[-1] == name else getattr(module, name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted(api)

    return sorted(api), __getattr__, __dir__
