"""Tests of what `import lstmcast` does to the process: import-time objects frozen, nothing lost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHILD = """
import gc, sys
import lstmcast as lc
assert gc.get_freeze_count() == 0, "nothing frozen before the first use"
lc.LSTMForecaster  # first use: loads torch, then freezes what import built
frozen = gc.get_freeze_count()
assert frozen > 10_000, frozen
lc.plot_forecast  # later loads (matplotlib here) freeze nothing more
assert gc.get_freeze_count() <= frozen  # frozen objects may still be freed

class Holder:
    pass

# A file kept alive only by a reference cycle and never closed: the exit collection must still
# find it and flush it, so what the caller builds after import is not frozen.
holder = Holder()
holder.self = holder
holder.file = open(sys.argv[1], "w")
holder.file.write("flushed at exit")
"""


def test_first_use_freezes_import_objects_and_later_objects_are_still_finalised(
    tmp_path: Path,
) -> None:
    target = tmp_path / "cyclic.txt"
    subprocess.run([sys.executable, "-c", CHILD, str(target)], check=True)
    assert target.read_text() == "flushed at exit"


def test_public_names_are_listed_alike_in_all_three_places() -> None:
    """`__init__` names each public object three times (the lazy table that loads it, the
    type-checking import that lets checkers and editors see it, ``__all__``): they must agree,
    and every lazy name must exist in the module the table points at."""
    import ast
    import importlib

    import lstmcast
    from lstmcast import errors

    tree = ast.parse(Path(lstmcast.__file__).read_text())
    (checking,) = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    ]
    typed = {
        (node.module, alias.name)
        for node in checking.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    lazy = {(module, name) for module, names in lstmcast._LAZY.items() for name in names}
    assert typed == lazy
    eager = {name for name in vars(errors) if name.endswith(("Error", "Warning"))}
    assert set(lstmcast.__all__) == {name for _, name in lazy} | eager | {"__version__"}
    assert len(lstmcast.__all__) == len(set(lstmcast.__all__))
    for module, name in sorted(lazy):
        assert hasattr(importlib.import_module(f"lstmcast.{module}"), name), (module, name)


def test_memory_reach_does_not_load_matplotlib() -> None:
    """The gate analysis is tables only: using it must not pay for (or need) matplotlib."""
    child = (
        "import sys\n"
        "import lstmcast as lc\n"
        "lc.memory_reach\n"
        "assert 'matplotlib' not in sys.modules, 'memory_reach loaded matplotlib'\n"
    )
    subprocess.run([sys.executable, "-c", child], check=True)
