"""The package's folders read as the chain, and no stage imports a later one."""

from __future__ import annotations

import ast
from pathlib import Path

import skeleton_steering

PACKAGE_DIR = Path(skeleton_steering.__file__).parent

# Lowest first. A module may import from its own stage and from earlier ones only. Top-level
# modules are either shared plumbing (imported by every stage) or commands (import anything).
STAGE_ORDER = (
    "plumbing",
    "skeleton",
    "data",
    "env",
    "learn",
    "render",
    "evaluate",
    "report",
    "bench",
    "commands",
)
PLUMBING = {"arg_types", "config", "entry", "io_utils", "jax_setup", "npz_io", "progress"}
COMMANDS = {"__init__", "cli", "demo", "train", "eval"}


def stage_of(module: str) -> str:
    """Stage of a dotted module name inside the package (`skeleton_steering.learn.gae`)."""
    parts = module.split(".")[1:]
    if not parts:
        return "commands"
    head = parts[0]
    if head in STAGE_ORDER:
        return head
    if head in PLUMBING:
        return "plumbing"
    if head in COMMANDS:
        return "commands"
    raise AssertionError(f"{module}: top-level module not assigned to a stage in this test")


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
    return ".".join(rel.parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Package modules a file imports, deferred (in-function) imports included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # `from skeleton_steering import cli` names a module, not an attribute.
            if node.module == "skeleton_steering" or node.module.count(".") == 1:
                found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return [(line, m) for line, m in found if m.split(".")[0] == "skeleton_steering"]


def _existing(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (PACKAGE_DIR / rel).with_suffix(".py").exists() or (PACKAGE_DIR / rel).is_dir()


def test_every_top_level_module_has_a_stage():
    for path in PACKAGE_DIR.glob("*.py"):
        stage_of(module_name(path))


def test_every_stage_folder_says_what_it_takes_and_hands_on():
    for stage in STAGE_ORDER:
        if stage in ("plumbing", "commands"):
            continue
        init = PACKAGE_DIR / stage / "__init__.py"
        assert init.exists(), f"stage folder {stage}/ is missing"
        assert ast.get_docstring(ast.parse(init.read_text())), f"{init} has no docstring"


def test_no_module_imports_a_later_stage():
    violations = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        importer = module_name(path)
        own = STAGE_ORDER.index(stage_of(importer))
        for line, imported in imported_modules(path):
            if not _existing(imported) or imported == "skeleton_steering":
                continue
            theirs = STAGE_ORDER.index(stage_of(imported))
            if theirs > own:
                violations.append(f"{path.relative_to(PACKAGE_DIR)}:{line} ({STAGE_ORDER[own]}) "
                                  f"imports {imported} ({STAGE_ORDER[theirs]})")
    assert not violations, "imports from a later stage:\n" + "\n".join(violations)


def test_every_package_import_names_an_existing_module():
    # A stale name after a move must fail here, not hide behind an `except ImportError`.
    missing = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.split(".")[0] != "skeleton_steering":
                    continue
                names = [node.module]
                if node.module == "skeleton_steering":
                    names = [f"skeleton_steering.{a.name}" for a in node.names]
                missing += [f"{path.relative_to(PACKAGE_DIR)}:{node.lineno} {m}"
                            for m in names if not _existing(m)]
    assert not missing, "imports of modules that do not exist:\n" + "\n".join(missing)


# The training driver is a command's body: evaluating, rendering or reporting a model must not
# need it (what both sides use lives in learn/expert_source.py, jax_setup.py).
TRAINING_DRIVER = "skeleton_steering.learn.train"


def test_evaluation_and_report_never_import_the_training_driver():
    offenders = []
    for stage in ("render", "evaluate", "report"):
        for path in sorted((PACKAGE_DIR / stage).rglob("*.py")):
            offenders += [f"{path.relative_to(PACKAGE_DIR)}:{line}"
                          for line, imported in imported_modules(path)
                          if imported == TRAINING_DRIVER]
    assert not offenders, "imports of the training driver:\n" + "\n".join(offenders)


def test_the_check_catches_an_upward_import(tmp_path):
    # The walk above must see deferred imports: a function-level import of the learner from the
    # environment is exactly what would slip in unnoticed.
    fake = tmp_path / "probe.py"
    fake.write_text("def f():\n    from skeleton_steering.learn.amp_ppo import Learner\n")
    (line, imported), *_ = imported_modules(fake)
    assert line == 2
    assert STAGE_ORDER.index(stage_of(imported)) > STAGE_ORDER.index("env")
