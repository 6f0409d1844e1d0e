"""Code patterns on a user's own files (``pattern run --path``): tasks read from the files, the
team's answers proposed as a patch that ``git apply`` takes, and the files left as they were."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ekklesia as ek
from ekklesia.cli import app
from ekklesia.code.local import local_tasks, propose
from ekklesia.errors import UserError

runner = CliRunner()

STATS = '''def mean(xs):
    """The arithmetic mean.

    >>> mean([1, 2, 3])
    2.0
    """
    return sum(xs) / len(xs)


def clamp(x, lo, hi):
    return max(lo, min(x, hi))


def _private(x):
    return x
'''
TEXT = '''def shout(s):
    """Upper-case with an exclamation mark.

    >>> shout("hi")
    'HI!'
    """
    return s.upper() + "!"
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    package = tmp_path / "mylib"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "stats.py").write_text(STATS)
    (package / "text.py").write_text(TEXT)
    (package / "broken.py").write_text("def oops(:\n")
    for skipped in (".venv/lib", "tests", "__pycache__"):
        (package / skipped).mkdir(parents=True)
        (package / skipped / "skip_me.py").write_text("def skip_me():\n    return 1\n")
    (package / "test_stats.py").write_text("def test_it():\n    assert True\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*.py"))}


def test_tasks_are_one_per_file_that_parses_and_has_work(project: Path) -> None:
    docs = local_tasks("documentation", project / "mylib")
    assert [t.meta["path"] for t in docs] == ["mylib/stats.py"]  # text.py is documented already
    assert docs[0].meta["functions"] == ["clamp"] and docs[0].meta["module"] == "mylib.stats"
    assert "assert mean([1, 2, 3]) == 2.0" in docs[0].meta["test"]
    tests = local_tasks("testing", project / "mylib")
    assert [t.meta["path"] for t in tests] == ["mylib/stats.py", "mylib/text.py"]
    reviews = local_tasks("code_review", project / "mylib")
    # a review reads test files too, never hidden folders, virtual environments or caches
    assert [t.meta["path"] for t in reviews] == [
        "mylib/stats.py",
        "mylib/test_stats.py",
        "mylib/tests/skip_me.py",
        "mylib/text.py",
    ]
    assert all(t.suite == "local-code_review" and t.expected is None for t in reviews)


def test_bad_paths_and_patterns_are_one_line_errors(project: Path) -> None:
    with pytest.raises(UserError, match="runs code_review, testing, documentation"):
        local_tasks("bug_fix", project / "mylib")
    with pytest.raises(UserError, match="does not exist"):
        local_tasks("testing", project / "nowhere")
    (project / "notes.txt").write_text("x")
    with pytest.raises(UserError, match="not a Python file"):
        local_tasks("testing", project / "notes.txt")
    (project / "empty").mkdir()
    with pytest.raises(UserError, match="found no Python files"):
        local_tasks("testing", project / "empty")
    shown = runner.invoke(app, ["pattern", "run", "refactoring", "--path", "mylib"])
    assert shown.exit_code == 2 and "--path runs code_review" in shown.output
    shown = runner.invoke(app, ["pattern", "run", "testing", "--patch", "x.patch"])
    assert shown.exit_code == 2 and "--patch goes with --path" in shown.output


@pytest.mark.usefixtures("ray_session")
def test_testing_and_documentation_write_a_patch_that_applies_and_touch_no_file(
    project: Path,
) -> None:
    before = _files(project)
    for pattern in ("testing", "documentation"):
        shown = runner.invoke(app, ["pattern", "run", pattern, "--path", "mylib", "--json"])
        assert shown.exit_code == 0, shown.output
        data = json.loads(shown.stdout)
        assert data["patch"] == f"ekklesia-{pattern}.patch" and data["skipped"] == {}
        assert data["results"] and all(r["run_id"] for r in data["results"])
    assert _files(project) == before  # proposals only
    tests_patch = (project / "ekklesia-testing.patch").read_text()
    assert "+from mylib.stats import mean, clamp" in tests_patch
    assert "+    assert shout(\"hi\") == 'HI!'" in tests_patch
    assert '+    """Clamp."""' in (project / "ekklesia-documentation.patch").read_text()
    if shutil.which("git") is None:
        pytest.skip("git is not installed: the patch is checked as text only")
    subprocess.run(["git", "init", "-q", "."], cwd=project, check=True)
    patches = ["ekklesia-testing.patch", "ekklesia-documentation.patch"]
    subprocess.run(["git", "apply", *patches], cwd=project, check=True)
    assert "def test_mylib_stats() -> None:" in (project / "tests/test_mylib_stats.py").read_text()
    assert '"""Clamp."""' in (project / "mylib/stats.py").read_text()


@pytest.mark.usefixtures("ray_session")
def test_a_review_gives_findings_and_no_patch(project: Path) -> None:
    shown = runner.invoke(app, ["pattern", "run", "code_review", "--path", "mylib/text.py"])
    assert shown.exit_code == 0, shown.output
    assert "text.py" in shown.output and not list(project.glob("*.patch"))
    tasks = local_tasks("code_review", project / "mylib" / "text.py")
    report = ek.run_pattern("code_review", tasks, model="sim:skill=1")
    assert report.score is None  # no verdict is known for one's own code
    proposals = propose("code_review", tasks, report.results, root=project)
    assert proposals.patch == "" and [f.path for f in proposals.findings] == ["mylib/text.py"]
    assert proposals.findings[0].verdict == "correct"


@pytest.mark.usefixtures("ray_session")
def test_an_answer_that_changes_the_code_or_holds_none_is_not_proposed(project: Path) -> None:
    tasks = local_tasks("documentation", project / "mylib")
    report = ek.run_pattern("documentation", tasks, model="sim")
    changed = STATS.replace("max(lo, min(x, hi))", "min(lo, max(x, hi))")
    for answer, reason in [
        (f"```python\n{changed}```", "changed the code"),
        ("I would rather not.", "held no Python code"),
    ]:
        results = [r.model_copy(update={"answer": answer}) for r in report.results]
        proposals = propose("documentation", tasks, results, root=project)
        assert proposals.patch == "" and reason in proposals.skipped["mylib/stats.py"]
