"""The shape of the code around the kernel (issue 15): small functions, no solver
logic generated from source strings, one definition of each status and sentinel.

These are read from the source with :mod:`ast`, so they fail when a change
breaks the rule, naming the function or module that does.
"""
import ast
import io
import os
import tokenize

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lsqcore")

#: problem-library data tables, exempt from the length rule (data, not logic)
DATA_TABLES = {("problems/_mgh.py", "_specs")}
MAX_CODE_LINES = 100


def _read(path):
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def _sources():
    for d, _, files in os.walk(ROOT):
        for f in sorted(files):
            if f.endswith(".py"):
                path = os.path.join(d, f)
                yield os.path.relpath(path, ROOT).replace(os.sep, "/"), path


def _code_lines(src):
    """Line numbers holding code: no blank lines, comments or docstrings."""
    tree = ast.parse(src)
    doc = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(
                    getattr(body[0], "value", None), ast.Constant) and isinstance(
                    body[0].value.value, str):
                doc.update(range(body[0].lineno, body[0].end_lineno + 1))
    lines = set()
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                        tokenize.DEDENT, tokenize.ENDMARKER):
            continue
        for ln in range(tok.start[0], tok.end[0] + 1):
            if ln not in doc:
                lines.add(ln)
    return tree, lines


def _function_lengths():
    for rel, path in _sources():
        src = _read(path)
        tree, code = _code_lines(src)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = set(range(node.lineno, node.end_lineno + 1)) & code
                yield rel, node.name, len(body)


def test_the_length_rule_counts_code_only():
    src = ('def f(x):\n    """Doc\n\n    more doc.\n    """\n    # a comment\n\n'
           '    y = (x +\n         1)\n    return y\n')
    tree, code = _code_lines(src)
    assert sorted(code) == [1, 8, 9, 10]


def test_no_function_longer_than_100_code_lines():
    long = [(rel, name, k) for rel, name, k in _function_lengths()
            if k > MAX_CODE_LINES and (rel, name) not in DATA_TABLES]
    assert not long, f"functions over {MAX_CODE_LINES} lines of code: {long}"


@pytest.mark.parametrize("rel", ["batch/cpu.py", "batch/cuda.py", "_driver.py", "_kernel.py",
                                 "jit.py", "_row.py", "batch/_row.py"])
def test_no_solver_logic_generated_from_source(rel):
    """The drivers, the kernel and the rows are Python source Numba compiles,
    never strings handed to ``exec``/``compile``."""
    tree = ast.parse(_read(os.path.join(ROOT, rel)))
    calls = [n.func.id for n in ast.walk(tree)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
             and n.func.id in ("exec", "eval", "compile")]
    assert not calls, f"{rel} generates code with {calls}"


def _module_constants(rel):
    tree = ast.parse(_read(os.path.join(ROOT, rel)))
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Constant, ast.UnaryOp)):
            for t in node.targets:
                if isinstance(t, ast.Name) and t.id.isupper():
                    yield t.id


def test_each_status_and_sentinel_is_defined_once():
    """A constant name (``BAD_SHAPE``, ``WHOLE``, ``ERR_F_SHAPE``...) is assigned
    a literal in one module only; the others import it."""
    seen = {}
    for rel, _ in _sources():
        if rel.startswith(("problems/", "cli/")):
            continue
        for name in _module_constants(rel):
            seen.setdefault(name, []).append(rel)
    names = ("BAD_SHAPE", "WHOLE", "ROW", "NOT_RUN", "NONFINITE_START", "TOO_FEW_POINTS",
             "USER_RAISED", "RUNNING", "GTOL", "FTOL", "XTOL", "ERR_F_SHAPE", "ERR_J_SHAPE",
             "ERR_LOSS_SHAPE", "ERR_RAISED", "WRAPPER_RAISED", "WRAPPER_BAD_SHAPE", "EPS")
    twice = {k: v for k, v in seen.items() if k in names and len(v) > 1}
    assert not twice, f"defined in more than one module: {twice}"
