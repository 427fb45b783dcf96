"""``python isolated_python.py MODULE [ARGUMENT...]``: ``python -m MODULE ARGUMENT...`` with the
Flowlab project off ``sys.path``, in a folder holding a copied package.

The editable install puts the project's folder on every ``sys.path`` of the virtual environment
(a ``.pth`` file); this script takes it off again (and its own folder), puts the current folder
first, as ``python -m`` does, and refuses to go on while any Flowlab package is still importable.
So a copied package that imports ``shared.`` anything fails here with ``ModuleNotFoundError``,
exactly as in a service that copied it.
"""

import importlib.util
import os
import runpy
import sys

HERE = os.path.dirname(os.path.realpath(__file__))
PROJECT_ROOT = os.path.dirname(os.path.dirname(HERE))
FLOWLAB_PACKAGES = ("shared", "api", "authserver", "tests")


def isolate() -> None:
    """``sys.path`` without the project and this folder, the current folder first."""
    hidden = {PROJECT_ROOT, HERE}
    kept = [entry for entry in sys.path if os.path.realpath(entry or os.curdir) not in hidden]
    sys.path[:] = [os.getcwd(), *kept]
    importable = [name for name in FLOWLAB_PACKAGES if importlib.util.find_spec(name)]
    if importable:
        sys.exit(f"isolated_python: Flowlab's {importable} still importable from {sys.path}")


if __name__ == "__main__":
    isolate()
    module, *arguments = sys.argv[1:]
    sys.argv = [module, *arguments]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
