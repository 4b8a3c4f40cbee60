"""Every test that skips without CUDA carries the ``gpu`` mark, so that ``-m gpu`` runs them all on a GPU machine."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST_DIRS = [ROOT / "tests", *sorted(ROOT.glob("packages/*/tests")), ROOT / "cli" / "tests"]
TEST_DIRS += sorted(ROOT.glob("examples/*/tests"))


def _marks(source: str, nodes: list[ast.expr]) -> str:
    return " ".join(ast.get_source_segment(source, node) or "" for node in nodes)


def _module_marks(source: str, tree: ast.Module) -> str:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            return _marks(source, [node.value])
    return ""


def _tests(tree: ast.Module):
    """Each test function with the decorators of the classes around it."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            yield node, []
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name.startswith("test"):
                    yield item, node.decorator_list


def cuda_tests_without_the_gpu_mark(path: Path, root: Path = ROOT) -> list[str]:
    """The tests of ``path`` whose marks skip them without CUDA but do not include ``pytest.mark.gpu``."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    module = _module_marks(source, tree)
    missing = []
    for func, class_marks in _tests(tree):
        marks = " ".join([module, _marks(source, class_marks), _marks(source, func.decorator_list)])
        if "cuda.is_available" in marks and "mark.gpu" not in marks:
            missing.append(f"{path.relative_to(root)}::{func.name}")
    return missing


def test_the_check_finds_a_cuda_test_without_the_mark(tmp_path):
    sample = tmp_path / "test_sample.py"
    sample.write_text(
        "import pytest, torch\n"
        "@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')\n"
        "def test_unmarked(): pass\n"
        "@pytest.mark.gpu\n"
        "@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')\n"
        "def test_marked(): pass\n"
        "def test_cpu(): pass\n",
        encoding="utf-8",
    )
    assert cuda_tests_without_the_gpu_mark(sample, tmp_path) == ["test_sample.py::test_unmarked"]


def test_every_test_that_needs_cuda_is_marked_gpu():
    files = [path for folder in TEST_DIRS if folder.is_dir() for path in sorted(folder.rglob("test_*.py"))]
    assert len(files) > 20  # the walk found the suite
    missing = [name for path in files for name in cuda_tests_without_the_gpu_mark(path)]
    assert missing == [], f"add @pytest.mark.gpu to: {', '.join(missing)}"
