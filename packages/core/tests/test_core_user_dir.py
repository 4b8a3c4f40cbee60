"""--user-dir: any folder name, no sys.path change, idempotent, clear errors, spawn-safe pickling."""

from __future__ import annotations

import copy
import multiprocessing
import os
import pickle
import sys

import pytest

from seqlab.core import PluginError, get_plugin, import_user_dir
from seqlab.core.user_dir import ENV_VAR, import_user_dirs, module_name_for

PICKLABLE = """
import os
from seqlab.core import Criterion, register_criterion


class Payload:
    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return f"{type(self).__module__}.Payload({self.value}) in {os.getpid()}"


@register_criterion("{name}_crit")
class C(Criterion):
    pass
"""


@pytest.mark.parametrize("folder", ["src", "models", "my-module"])
def test_any_folder_name_imports_without_touching_sys_path(make_dir, folder):
    root = make_dir(
        folder,
        {
            "__init__.py": "from . import plugins\n",
            "plugins.py": PICKLABLE.replace("{name}", folder.replace("-", "_")),
        },
    )
    before = list(sys.path)
    module = import_user_dir(str(root))
    assert sys.path == before
    assert module.__name__ == module_name_for(str(root))
    assert module.__name__.isidentifier()
    plugin = get_plugin("criterion", f"{folder.replace('-', '_')}_crit")
    assert plugin.provenance()["user_dir"] == str(root.resolve())
    # the folder's name must not shadow a real top-level module of that name
    assert sys.modules.get(folder) is None or sys.modules[folder] is not module


def test_same_real_path_twice_is_a_no_op(make_dir, tmp_path):
    root = make_dir("twice", {"__init__.py": "COUNT = [0]\nCOUNT[0] += 1\n"})
    link = tmp_path / "link-to-twice"
    link.symlink_to(root)
    first = import_user_dir(str(root))
    second = import_user_dir(str(link))
    assert first is second and first.COUNT == [1]


def test_missing_init_is_one_line_naming_the_file(make_dir):
    root = make_dir("noinit", {"plugins.py": "x = 1\n"})
    with pytest.raises(PluginError) as err:
        import_user_dir(str(root))
    assert f"{root}/__init__.py is missing" in str(err.value) and "\n" not in str(err.value)


def test_missing_folder(tmp_path):
    with pytest.raises(PluginError, match="no such directory"):
        import_user_dir(str(tmp_path / "absent"))


def test_folder_name_that_is_not_utf8_imports(tmp_path):
    # argv holds such a name as lone surrogates (surrogateescape), which str.encode("utf-8") rejects
    root = os.path.join(os.fsencode(tmp_path), b"plug\xff")
    os.mkdir(root)
    with open(os.path.join(root, b"__init__.py"), "w") as f:
        f.write("VALUE = 7\n")
    assert import_user_dir(os.fsdecode(root)).VALUE == 7


def test_nul_in_a_path_is_a_plugin_error(tmp_path):
    with pytest.raises(PluginError, match="cannot contain a NUL character"):
        import_user_dir(str(tmp_path) + "\x00x")


def test_syntax_error_names_file_and_line(make_dir):
    root = make_dir("syntax", {"__init__.py": "from . import broken\n", "broken.py": "x = 1\ndef f(:\n"})
    with pytest.raises(PluginError) as err:
        import_user_dir(str(root))
    assert "SyntaxError" in str(err.value) and f"{root}/broken.py:2" in str(err.value)
    assert module_name_for(str(root)) not in sys.modules


def test_raising_code_names_file_and_line(make_dir):
    root = make_dir("raises", {"__init__.py": "\n\nraise ValueError('bad plugin value')\n"})
    with pytest.raises(PluginError) as err:
        import_user_dir(str(root))
    assert "ValueError: bad plugin value" in str(err.value) and f"{root}/__init__.py:3" in str(err.value)


def test_user_dirs_are_recorded_for_child_processes(make_dir):
    root = make_dir("envdir", {"__init__.py": ""})
    import_user_dir(str(root))
    assert str(root.resolve()) in os.environ[ENV_VAR].split(os.pathsep)


def test_user_dir_class_round_trips_through_a_spawn_child(make_dir):
    root = make_dir(
        "spawned",
        {
            "__init__.py": "from .plugins import Payload\n",
            "plugins.py": PICKLABLE.replace("{name}", "spawned"),
        },
    )
    module = import_user_dir(str(root))
    payload = module.Payload(41)
    pickle.dumps(payload)  # pickles by reference to the derived module name
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1, initializer=import_user_dirs, initargs=([str(root)],)) as pool:
        text = pool.apply(repr, (payload,))
        back = pool.apply(copy.copy, (payload,))
    assert text.startswith(f"{module.__name__}.plugins.Payload(41) in ")
    assert not text.endswith(f" in {os.getpid()}")
    assert type(back) is module.Payload and back.value == 41
