"""The documentation's commands and links are real.

Every `skeleton-steering ...` and `python -m skeleton_steering...` command in a shell code block
(and in an inline code span) of README.md, docs/*.md and policies/README.md must name a real
subcommand and only flags that subcommand has; `section.key=value` overrides of `train` and
`bench train` (and the overrides inside `bench learn --variant`) must be training-config keys
with values the config accepts; a command without placeholders must parse as a whole with the
real parser; `make TARGET` must name a Makefile target. Every relative link and image in
README.md and docs/*.md must point at an existing file, and a `#fragment` at a heading there.
Nothing is run: the parsers are the ones `skeleton-steering` builds (`cli.build_parser`).
"""

from __future__ import annotations

import argparse
import re
import shlex
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from skeleton_steering import arg_types, cli
from skeleton_steering.config import ConfigError
from skeleton_steering.evaluate import eval_cli
from skeleton_steering.learn import train as train_cmd
from skeleton_steering.learn import train_config

REPO = Path(__file__).resolve().parents[1]
COMMAND_DOCS = sorted([REPO / "README.md", REPO / "policies" / "README.md",
                       *(REPO / "docs").glob("*.md")])
LINK_DOCS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])

SHELL_LANGUAGES = {"", "bash", "sh", "shell", "console", "zsh"}
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
# A token is a placeholder when it holds one of these, or is a word in capitals (DIR, FILE).
PLACEHOLDER_MARKS = ("<", ">", "[", "]", "{", "}", "|", "$", "...", "*")
CAPS_WORD = re.compile(r"^[A-Z][A-Z0-9_]*$")
REDIRECT = re.compile(r"^\d*(>>?|<|>&\d*|&>)$")
REDIRECT_ATTACHED = re.compile(r"^\d*(>>?|<|&>)(?!.*>$)\S+$|^\d*>&\d+$")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
SEPARATORS = {";", "&", "&&", "|", "||", "(", ")"}
SHELL_PREFIXES = {"do", "then", "else", "time", "nohup", "exec", "sudo", "!"}


@dataclass(frozen=True)
class Command:
    """One command line of a document (continuations joined)."""

    where: str  # file:line
    text: str
    # From a code block: a full command (parsed whole when it has no placeholders). An inline
    # code span may name just a command (`skeleton-steering eval`) or a part of one.
    whole: bool = True


# -- finding commands ------------------------------------------------------------------------


def _strip_code(text: str) -> str:
    """The markdown with fenced blocks blanked (line numbers kept) and inline code removed."""
    return re.sub(r"(`+)(?s:.+?)\1", "", _strip_fences(text))


def shell_blocks(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, lines) of each fenced block whose language is a shell (or none)."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info = m["fence"], m["info"].strip().split()
        body, start = [], i + 2
        i += 1
        while i < len(lines) and not (lines[i].strip().startswith(fence)
                                      and not lines[i].strip().strip(fence[0])):
            body.append(lines[i])
            i += 1
        i += 1
        if (info[0].lower() if info else "") in SHELL_LANGUAGES:
            yield start, body


def commands_in(text: str, name: str) -> Iterator[Command]:
    """Every command line in the shell blocks of `text`, and every inline code span that is
    a `skeleton-steering` or `python -m skeleton_steering` command."""
    for start, body in shell_blocks(text):
        joined, first = "", None
        for offset, line in enumerate(body):
            stripped = line.rstrip()
            if first is None:
                first = start + offset
            if stripped.endswith("\\"):
                joined += stripped[:-1] + " "
                continue
            joined += stripped
            yield Command(f"{name}:{first}", re.sub(r"^\s*\$ ", "", joined))
            joined, first = "", None
        if joined:
            yield Command(f"{name}:{first}", joined)
    prose = _strip_fences(text)
    for m in re.finditer(r"(?<!`)`([^`]+)`(?!`)", prose):
        span = " ".join(m[1].split())
        if re.match(r"(\S*/)?(skeleton-steering|python3?) ", span) and (
            span.startswith(("skeleton-steering", ".venv/bin/skeleton-steering"))
            or " -m skeleton_steering" in span
        ):
            line = prose.count("\n", 0, m.start()) + 1
            yield Command(f"{name}:{line}", span, whole=False)


def _strip_fences(text: str) -> str:
    """The markdown with fenced blocks blanked, line numbers kept."""
    out, fence = [], None
    for line in text.splitlines():
        m = FENCE.match(line)
        if fence is None and m:
            fence = m["fence"]
            out.append("")
        elif fence is not None:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = None
            out.append("")
        else:
            out.append(line)
    return "\n".join(out)


def simple_commands(line: str) -> Iterator[list[str]]:
    """The simple commands of one shell line as token lists: comments, redirections,
    separators, shell keywords and leading VAR=value assignments removed."""
    lex = shlex.shlex(line, posix=True, punctuation_chars=";()")
    lex.whitespace_split = True
    lex.commenters = "#"
    try:
        tokens = list(lex)
    except ValueError:  # an unbalanced quote: take the line as plain words
        tokens = line.split("#")[0].split()
    current: list[str] = []
    skip_next = False
    for tok in tokens:
        if skip_next:
            skip_next = False
            continue
        if tok in SEPARATORS or set(tok) <= set(";()"):
            if current:
                yield current
            current = []
            continue
        if REDIRECT.match(tok):
            skip_next = True
            continue
        if REDIRECT_ATTACHED.match(tok):
            continue
        if not current and (tok in SHELL_PREFIXES or ENV_ASSIGNMENT.match(tok)):
            continue
        current.append(tok)
    if current:
        yield current


# -- checking them -----------------------------------------------------------------------------


def is_placeholder(token: str) -> bool:
    return any(mark in token for mark in PLACEHOLDER_MARKS) or bool(CAPS_WORD.match(token))


def _unbracket(token: str) -> str:
    """`[--flag` -> `--flag`, `value]` -> `value`: optional parts are written in brackets."""
    return token.lstrip("[").rstrip("]")


def _module_parser(prog: str, add_arguments) -> argparse.ArgumentParser:
    parser = arg_types.ArgumentParser(prog=prog)
    add_arguments(parser)
    return parser


@cache
def parsers() -> dict[str, argparse.ArgumentParser]:
    """The command-line programs the docs may name, by how they are invoked."""
    return {
        "skeleton-steering": cli.build_parser(),
        "skeleton_steering.cli": cli.build_parser(),
        "skeleton_steering.train": _module_parser("python -m skeleton_steering.train",
                                                  train_cmd.add_arguments),
        "skeleton_steering.eval": _module_parser("python -m skeleton_steering.eval",
                                                 eval_cli.add_arguments),
    }


@cache
def make_targets() -> frozenset[str]:
    text = (REPO / "Makefile").read_text()
    return frozenset(t for m in re.finditer(r"^([A-Za-z0-9_.-]+(?: [A-Za-z0-9_.-]+)*):(?!=)",
                                            text, re.M) for t in m[1].split())


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s: a for a in parser._actions for s in a.option_strings}


def _has_overrides(parser: argparse.ArgumentParser) -> bool:
    return any(a.dest == "overrides" and not a.option_strings for a in parser._actions)


def check_overrides(where: str, config_path: str | None, overrides: list[str]) -> list[str]:
    """Problems of `section.key=value` overrides against the training config (with `--config`)."""
    if not overrides:
        return []
    path = None
    if config_path and not is_placeholder(config_path):
        path = REPO / config_path
        if not path.is_file():
            return [f"{where}: --config {config_path}: no such file"]
    try:
        train_config.load(path, overrides)
    except ConfigError as err:
        return [f"{where}: {err}"]
    return []


def check_variant(where: str, spec: str) -> list[str]:
    from skeleton_steering.bench import learn_bench

    if is_placeholder(spec):
        return []
    try:
        variant = learn_bench.parse_variant(spec)
    except ValueError as err:
        return [f"{where}: {err}"]
    return check_overrides(where, variant.config_path, list(variant.overrides))


def check_argv(where: str, program: str, argv: list[str], whole: bool = True) -> list[str]:
    """Problems of one invocation of `program` (a key of `parsers()`) with arguments `argv`;
    `whole`: it is meant as a complete command (else a command named in prose)."""
    parser = parsers()[program]
    # (as written, without brackets): placeholders are judged as written.
    pairs = [(t, _unbracket(t)) for t in argv if _unbracket(t) not in ("", "...")]
    tokens = [clean for _, clean in pairs]
    name = program
    # Subcommands: the first word that is not a flag names the next parser.
    while (sub := _subparsers(parser)) is not None:
        words = [t for t in tokens if not t.startswith("-")]
        if not words:
            return [] if not whole or any(t in ("-h", "--help") for t in tokens) else [
                f"{where}: `{name}` needs a subcommand ({', '.join(sub.choices)})"]
        word = words[0]
        if is_placeholder(word):
            return []
        if word not in sub.choices:
            return [f"{where}: `{name} {word}`: no such subcommand "
                    f"(there are: {', '.join(sub.choices)})"]
        pairs = pairs[tokens.index(word) + 1:]
        tokens = [clean for _, clean in pairs]
        parser = sub.choices[word]
        name = f"{name} {word}"
    options = _options(parser)
    problems, overrides, config_path = [], [], None
    i = 0
    while i < len(tokens):
        written, tok = pairs[i]
        if tok.startswith("-") and not re.match(r"^-\d", tok) and tok != "-":
            flag, eq, inline_value = tok.partition("=")
            action = options.get(flag)
            if action is None:
                problems.append(f"{where}: `{name}` has no flag {flag}")
                i += 1
                continue
            takes_value = action.nargs != 0
            value = inline_value if eq else (
                pairs[i + 1][0] if takes_value and i + 1 < len(tokens) else None)
            if value is not None and action.choices and not is_placeholder(value) \
                    and value not in action.choices:
                problems.append(f"{where}: `{name} {flag} {value}`: not one of "
                                f"{', '.join(map(str, action.choices))}")
            if flag == "--config":
                config_path = value
            if flag == "--variant" and value is not None:
                problems += check_variant(where, value)
            i += 1 + (1 if takes_value and not eq and action.nargs in (None, 1) else 0)
            continue
        if _has_overrides(parser) and "=" in tok and not is_placeholder(written):
            overrides.append(tok)
        i += 1
    if _has_overrides(parser):
        problems += check_overrides(where, config_path, overrides)
    if whole and not problems and not any(is_placeholder(t) for t in argv):
        # Nothing left to imagine: the real parser must take the whole command.
        full = [t for t in argv if t != "..."]
        try:
            parsers()[program].parse_args(full)
        except arg_types.UsageError as err:
            problems.append(f"{where}: {err}")
        except SystemExit:  # --help
            pass
    return problems


def check_command(cmd: Command) -> list[str]:
    problems = []
    for tokens in simple_commands(cmd.text):
        head = tokens[0]
        if head == "skeleton-steering" or head.endswith("/skeleton-steering"):
            problems += check_argv(cmd.where, "skeleton-steering", tokens[1:], cmd.whole)
        elif re.match(r"^(\S*/)?python(3(\.\d+)?)?$", head) and len(tokens) > 1:
            if tokens[1] == "-m" and len(tokens) > 2 and tokens[2].startswith("skeleton_steering"):
                module = tokens[2]
                if module not in parsers():
                    problems.append(f"{cmd.where}: `python -m {module}`: not a command module "
                                    f"(there are: {', '.join(sorted(parsers())[1:])})")
                else:
                    problems += check_argv(cmd.where, module, tokens[3:], cmd.whole)
            elif tokens[1].endswith(".py") and not is_placeholder(tokens[1]) \
                    and not (REPO / tokens[1]).is_file():
                problems.append(f"{cmd.where}: no such script {tokens[1]}")
        elif head == "make" and len(tokens) > 1:
            for target in tokens[1:]:
                if target.startswith("-") or "=" in target or is_placeholder(target):
                    continue
                if target not in make_targets():
                    problems.append(f"{cmd.where}: `make {target}`: no such Makefile target")
    return problems


def command_problems(text: str, name: str) -> list[str]:
    return [p for cmd in commands_in(text, name) for p in check_command(cmd)]


# -- links -------------------------------------------------------------------------------------


def heading_anchors(text: str) -> set[str]:
    """GitHub's anchors of the headings of a markdown text."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for line in _strip_fences(text).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        title = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", m[1])  # links keep their text
        title = title.replace("`", "").strip().lower()
        slug = "".join(c for c in title if c in " -_" or unicodedata.category(c)[0] in "LN")
        slug = slug.replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def link_targets(text: str) -> Iterator[tuple[int, str]]:
    """(line, target) of every inline link, image and reference definition outside code."""
    prose = _strip_code(text)
    for m in re.finditer(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)",
                         prose):
        yield prose.count("\n", 0, m.start()) + 1, m[1]
    for m in re.finditer(r"^\s{0,3}\[[^\]]+\]:\s+<?(\S+?)>?(?:\s|$)", prose, re.M):
        yield prose.count("\n", 0, m.start()) + 1, m[1]
    for m in re.finditer(r"<img\s[^>]*src=\"([^\"]+)\"", prose):
        yield prose.count("\n", 0, m.start()) + 1, m[1]


def link_problems(text: str, path: Path) -> list[str]:
    problems = []
    for line, target in link_targets(text):
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, fragment = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.name}:{line}"
        if not dest.exists():
            problems.append(f"{where}: link to {target}: no such file")
            continue
        if fragment and dest.suffix == ".md" and fragment not in heading_anchors(dest.read_text()):
            problems.append(f"{where}: link to {target}: no heading #{fragment} in {dest.name}")
    return problems


# -- the documents -----------------------------------------------------------------------------


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


@pytest.mark.parametrize("doc", COMMAND_DOCS, ids=_rel)
def test_documented_commands_are_real(doc):
    assert command_problems(doc.read_text(), _rel(doc)) == []


@pytest.mark.parametrize("doc", LINK_DOCS, ids=_rel)
def test_relative_links_resolve(doc):
    assert link_problems(doc.read_text(), doc) == []


def test_the_docs_show_commands():
    """The checks above look at something: the README and the docs name many commands."""
    found = [c for doc in COMMAND_DOCS for c in commands_in(doc.read_text(), _rel(doc))
             if "skeleton-steering" in c.text or "skeleton_steering" in c.text]
    assert len(found) >= 30
    assert any(doc.name == "README.md" and doc.parent == REPO for doc in COMMAND_DOCS)


# -- the checks catch what they are for ---------------------------------------------------------


def test_a_renamed_flag_is_reported():
    snippet = ("```bash\n"
               "skeleton-steering eval --model_path policies/walker.msgpack --n_steps 1500 \\\n"
               "    --episodes 4 --determinstic\n"
               "```\n")
    problems = command_problems(snippet, "snippet.md")
    assert len(problems) == 1 and "has no flag --determinstic" in problems[0]
    assert problems[0].startswith("snippet.md:2:")


@pytest.mark.parametrize("doc, command, flag, renamed", [
    ("README.md", "skeleton-steering extract", "--kit-root", "--kit_root"),
    ("docs/evaluation.md", "skeleton-steering eval", "--model_path", "--model-path"),
    ("policies/README.md", "skeleton-steering train", "--max_minutes", "--max-minutes"),
])
def test_a_renamed_flag_of_a_documented_command_is_reported(doc, command, flag, renamed):
    """Take a real command of a document and rename one flag the way a refactor would."""
    cmd = next(c for c in commands_in((REPO / doc).read_text(), doc)
               if c.whole and command in c.text and flag in c.text)
    assert check_command(cmd) == []
    changed = Command(cmd.where, cmd.text.replace(flag, renamed))
    assert any(f"has no flag {renamed}" in p for p in check_command(changed))


@pytest.mark.parametrize("line, expected", [
    ("skeleton-steering trian --seed 0", "no such subcommand"),
    ("skeleton-steering bench fast", "no such subcommand"),
    ("python -m skeleton_steering.evaluate --model_path X", "not a command module"),
    ("python -m skeleton_steering.train --seed 0 --jax-cpu", "has no flag --jax-cpu"),
    ("skeleton-steering eval --model_path M --leg_contacts maybe", "not one of on, off"),
    ("skeleton-steering train --seed 0 ppo.num_env=128", "num_env"),
    ("skeleton-steering train --seed 0 ppo.num_envs=many", "ppo.num_envs"),
    ("skeleton-steering bench learn --variant a=config/amp_ppo.yaml,amp.nope=1", "nope"),
    ("skeleton-steering eval --n_steps 10", "--model_path"),  # no placeholder: parsed whole
    ("skeleton-steering eval --model_path m.msgpack --n_steps 0", "n_steps"),
    ("make tests", "no such Makefile target"),
])
def test_bad_commands_are_reported(line, expected):
    problems = command_problems(f"```bash\n{line}\n```\n", "snippet.md")
    assert problems and expected in problems[0], problems


@pytest.mark.parametrize("line", [
    "skeleton-steering train --config config/amp_ppo.yaml --seed 42 [--deterministic] "
    "[--run_dir DIR] [key=value ...]",
    "python -m skeleton_steering.eval --model_path <MODEL> [--schedule scripted|straight|random]",
    "nohup skeleton-steering bench learn --variant torque= --seeds 0 1 --env_steps 1e6 "
    "> results/bench/learn.log 2>&1 &",
    "for s in 0 1; do skeleton-steering train --seed $s --run_dir results/x/seed$s "
    "run.iterations=10 & done; wait",
    "XLA_FLAGS=--xla_cpu_max_isa=SSE4_2 skeleton-steering eval --model_path p.msgpack  # a note",
    "skeleton-steering render --trajectory results/kit_expert_traj.npz [--clip I] "
    "[--width 640 --height 480] [--fps HZ]",
    "skeleton-steering bench physics --setting \"hz=150,substeps=3,legs=on\" --control pd",
    "skeleton-steering train ppo.num_envs=4096 amp.replay_capacity=1000000 "
    "network.policy_hidden=[512,256]",
    "make test-slow",
])
def test_good_commands_pass(line):
    assert command_problems(f"```bash\n{line}\n```\n", "snippet.md") == []


def test_continuations_are_joined():
    snippet = "```bash\nskeleton-steering cache \\\n  --trajectory t.npz \\\n  --out d\n```\n"
    cmds = list(commands_in(snippet, "s.md"))
    assert [c.where for c in cmds] == ["s.md:2"]
    assert command_problems(snippet, "s.md") == []


def test_other_code_blocks_are_not_commands():
    snippet = ("```yaml\nrun: skeleton-steering trian --bogus\n```\n"
               "```text\nskeleton-steering x\n```\n")
    assert command_problems(snippet, "s.md") == []


def test_a_broken_link_is_reported(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "data.md").write_text("# Data\n\n## QA criteria\n")
    doc = tmp_path / "README.md"
    doc.write_text("See [data](docs/data.md), [QA](docs/data.md#qa-criteria) and\n"
                   "![gif](docs/walker.gif), [gone](docs/gone.md), [bad](docs/data.md#nope),\n"
                   "[web](https://example.org) and `[code](nowhere.md)`.\n")
    problems = link_problems(doc.read_text(), doc)
    assert len(problems) == 3, problems
    assert any("docs/walker.gif: no such file" in p for p in problems)
    assert any("docs/gone.md: no such file" in p for p in problems)
    assert any("no heading #nope" in p for p in problems)
    assert all(p.startswith("README.md:2:") for p in problems)
