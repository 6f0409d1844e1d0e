"""Code patterns on your own Python files: review, tests and docstrings proposed as a patch.

    tasks = local_tasks("documentation", Path("src/mypkg"))
    report = run_pattern("documentation", tasks, model="openai:gpt-4o-mini")
    proposals = propose("documentation", tasks, report.results)
    Path("docs.patch").write_text(proposals.patch)     # then: git apply docs.patch

One task per file (a file that parses; hidden folders, virtual environments and caches are left
out, and so are test files except for ``code_review``). Each task's ``meta`` follows the suites'
schema (:mod:`ekklesia.code.suites`) with the file's text as ``program`` and ``canonical``, and
``path`` (relative to the root) added; ``test`` holds the file's own doctest examples as asserts,
so a documentation run checks that they still hold and a simulated tester has cases to pick from.

Nothing is written to the files: :func:`propose` turns the team's final answers into a unified
diff (``a/`` and ``b/`` prefixes, as ``git apply`` and ``patch -p1`` read it) and review findings:

* ``documentation``: each file with its docstrings added, when the answer is a program that
  parses and keeps the file's code (its AST without docstrings) unchanged;
* ``testing``: a new ``tests/test_<module>.py`` per file that imports the module and holds the
  team's asserts in one ``test_`` function (a file of that name already there gets
  ``_proposed`` added);
* ``code_review``: no patch; a finding per file (verdict, line, the reviewer's words).
"""

from __future__ import annotations

import ast
import difflib
import doctest
from collections.abc import Iterator, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ekklesia.code._source import without_docstrings
from ekklesia.code.parsing import extract_code, extract_verdict
from ekklesia.code.suites import SIMULATED_BY
from ekklesia.core.task import Task
from ekklesia.errors import UserError
from ekklesia.swarm import RunResult

__all__ = ["LOCAL_PATTERNS", "Finding", "Proposals", "local_tasks", "patch_root", "propose"]

#: The patterns that run on a user's own files.
LOCAL_PATTERNS: tuple[str, ...] = ("code_review", "testing", "documentation")

_SKIPPED_DIRS = {"__pycache__", "node_modules", "site-packages", "build", "dist"}
_MAX_FILE_BYTES = 200_000


class Finding(BaseModel):
    """What the reviewer said of one file."""

    model_config = ConfigDict(frozen=True)

    path: str
    verdict: str | None
    line: int | None
    comment: str


class Proposals(BaseModel):
    """A run's proposals: the patch, the files it touches, and any review findings."""

    model_config = ConfigDict(frozen=True)

    pattern: str
    patch: str
    files: list[str]
    findings: list[Finding]
    #: files whose answer could not be used, with the reason
    skipped: dict[str, str]


def local_tasks(pattern: str, root: Path, *, seed: int = 0) -> list[Task]:
    """One task of ``pattern`` per Python file under ``root`` (or ``root`` itself, a file)."""
    if pattern not in LOCAL_PATTERNS:
        raise UserError(f"--path runs {', '.join(LOCAL_PATTERNS)} on your files, not {pattern}")
    root = root.expanduser()
    if not root.exists():
        raise UserError(f"--path {root} does not exist")
    base = patch_root(root)
    tasks = []
    for path in _python_files(root, tests=pattern == "code_review"):
        relative = path.resolve().relative_to(base).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            continue  # not a program we can give a team (unreadable, or it does not parse)
        if not tree.body:
            continue  # an empty file (a package's ``__init__.py``): nothing to look at
        functions = _public_functions(tree)
        if pattern == "documentation":
            functions = [f for f in functions if not _has_docstring(tree, f)]
        if pattern != "code_review" and not functions:
            continue  # nothing to document or test
        task = _task(pattern, relative, text, tree, functions, seed)
        tasks.append(task.model_copy(update={"meta": task.meta | {"module": _module(path)}}))
    if not tasks:
        what = "undocumented public functions" if pattern == "documentation" else "Python files"
        raise UserError(f"--path {root}: found no {what} to work on")
    return tasks


def patch_root(root: Path) -> Path:
    """The folder a patch of files under ``root`` is relative to: the current one when ``root``
    is inside it (so that ``git apply`` works where the command ran), else ``root``'s own."""
    resolved = root.expanduser().resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or cwd in resolved.parents:
        return cwd
    return resolved.parent if resolved.is_file() else resolved


def propose(
    pattern: str,
    tasks: Sequence[Task],
    results: Sequence[RunResult],
    *,
    root: Path | None = None,
) -> Proposals:
    """The patch and findings from the final answers of a run of ``pattern`` over ``tasks``.

    ``root`` is the folder the patch is relative to (:func:`patch_root`): a proposed test file
    never overwrites one that is there.
    """
    by_id = {r.task_id: r for r in results}
    diffs: list[str] = []
    files: list[str] = []
    findings: list[Finding] = []
    skipped: dict[str, str] = {}
    taken: set[str] = set()
    for task in tasks:
        path = str(task.meta["path"])
        original = str(task.meta["program"])
        result = by_id.get(task.id)
        answer = result.answer if result is not None else None
        if result is None or answer is None:
            skipped[path] = "the run gave no answer"
            continue
        if pattern == "code_review":
            verdict, line = extract_verdict(answer)
            findings.append(Finding(path=path, verdict=verdict, line=line, comment=answer.strip()))
            continue
        code = extract_code(answer)
        if code is None:
            skipped[path] = "the answer held no Python code"
            continue
        if pattern == "documentation":
            reason = _documented_unchanged(original, code)
            if reason is not None:
                skipped[path] = reason
                continue
            if code.strip() == original.strip():
                continue
            diffs.append(_diff(path, original, code))
            files.append(path)
        else:  # testing
            target = _test_path(task, root, taken)
            taken.add(target)
            diffs.append(_diff(target, None, _test_file(task, code)))
            files.append(target)
    return Proposals(
        pattern=pattern, patch="".join(diffs), files=files, findings=findings, skipped=skipped
    )


# -- tasks --------------------------------------------------------------------------------------


def _python_files(root: Path, *, tests: bool) -> Iterator[Path]:
    if root.is_file():
        if root.suffix != ".py":
            raise UserError(f"--path {root} is not a Python file (.py) or a folder")
        yield root
        return
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if any(p.startswith(".") or p in _SKIPPED_DIRS or "venv" in p for p in parts[:-1]):
            continue
        if not tests and (path.name.startswith("test_") or path.name == "conftest.py"):
            continue
        if "tests" in parts[:-1] and not tests:
            continue
        if path.stat().st_size > _MAX_FILE_BYTES:
            continue
        yield path


def _public_functions(tree: ast.Module) -> list[str]:
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and not node.name.startswith("_")
    ]


def _has_docstring(tree: ast.Module, name: str) -> bool:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return ast.get_docstring(node) is not None
    return False


def _examples_test(tree: ast.Module, functions: list[str]) -> str:
    """The file's doctest examples of ``functions`` with a literal result, as asserts."""
    asserts: list[str] = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if node.name not in functions:
            continue
        for example in doctest.DocTestParser().get_examples(ast.get_docstring(node) or ""):
            source, want = example.source.strip(), example.want.strip()
            try:
                call = ast.parse(source, mode="eval").body
                ast.literal_eval(want)
            except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
                continue
            called = (
                call.func.id
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                else None
            )
            if called in functions:
                asserts.append(f"    assert {source} == {want}")
    if not asserts:
        return ""
    return "def check(candidate):\n" + "\n".join(asserts) + "\n\n\ncheck(None)\n"


def _task(
    pattern: str, path: str, text: str, tree: ast.Module, functions: list[str], seed: int
) -> Task:
    names = ", ".join(f"`{f}`" for f in functions)
    if pattern == "documentation":
        prompt = (
            f"Write docstrings for the public functions of the Python file `{path}` below "
            f"({names}): what each one does, its arguments and what it returns, with a doctest "
            "example. Reply with the complete file, its code unchanged."
        )
    elif pattern == "testing":
        prompt = (
            f"Write tests for the public functions of the Python file `{path}` below ({names}) "
            "as plain `assert` statements that call them; they will run after the file's code. "
            "They must pass for this code and should fail for a version with a bug."
        )
    else:
        prompt = (
            f"Review the Python file `{path}` below: does each function do what its name and "
            "docstring say? Answer `bug` if it has a bug, naming the line, or `correct` if it "
            "has none."
        )
    prompt += f"\n\n```python\n{text.rstrip()}\n```"
    entry = functions[0] if functions and pattern != "documentation" else ""
    meta = {
        "kind": pattern,
        "path": path,
        "problem": path,
        "entry_point": entry,
        "prompt": "",
        "canonical": text,
        "test": _examples_test(tree, _public_functions(tree)),
        "program": text,
        "functions": functions,
        "simulated_by": SIMULATED_BY,
    }
    return Task(id=f"{path}:{pattern}:{seed}", prompt=prompt, suite=f"local-{pattern}", meta=meta)


# -- proposals ----------------------------------------------------------------------------------


def _documented_unchanged(original: str, code: str) -> str | None:
    """Why a documented program cannot be proposed (None when it can)."""
    try:
        same = ast.dump(ast.parse(without_docstrings(code))) == ast.dump(
            ast.parse(without_docstrings(original))
        )
    except SyntaxError:
        return "the answer's program does not parse"
    return None if same else "the answer changed the code, not only its docstrings"


def _diff(path: str, before: str | None, after: str) -> str:
    old = [] if before is None else _lines(before)
    lines = difflib.unified_diff(
        old,
        _lines(after),
        fromfile="/dev/null" if before is None else f"a/{path}",
        tofile=f"b/{path}",
    )
    header = f"diff --git a/{path} b/{path}\n"
    if before is None:
        header += "new file mode 100644\n"
    return header + "".join(lines)


def _lines(text: str) -> list[str]:
    return (text.rstrip("\n") + "\n").splitlines(keepends=True)


def _module(path: Path) -> str:
    """The module's import name: the file's stem after the packages (``__init__.py``) above it."""
    path = path.resolve()
    parts = [] if path.stem == "__init__" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").exists() and folder != folder.parent:
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts)


def _test_path(task: Task, root: Path | None, taken: set[str]) -> str:
    stem = str(task.meta["module"]).replace(".", "_")
    target = f"tests/test_{stem}.py"
    if (root is not None and (root / target).exists()) or target in taken:
        target = f"tests/test_{stem}_proposed.py"
    return target


def _test_file(task: Task, tests: str) -> str:
    path = str(task.meta["path"])
    body = "\n".join(f"    {line}" if line.strip() else "" for line in tests.strip().splitlines())
    functions = task.meta.get("functions") or []
    names = ", ".join(str(f) for f in functions)
    module = str(task.meta["module"])
    return (
        f'"""Tests of {path}, proposed by the testing pattern."""\n\n'
        f"from {module} import {names}\n\n\n"
        f"def test_{module.replace('.', '_')}() -> None:\n{body}\n"
    )
