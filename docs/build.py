#!/usr/bin/env python
"""Build lsqcore's documentation: ``python docs/build.py``.

1. Writes ``docs/api.md``, the API reference, from the numpydoc docstrings
   of every public name (``__all__``) of ``lsqcore``, ``lsqcore.problems``,
   ``lsqcore.batch`` and ``lsqcore.xarray``, of the ``result.trace`` class,
   and from the help of the command-line tools (``python -m lsqcore <command> --help``).
2. Writes ``docs/workspace.md``, the solver's workspace, from the table
   ``lsqcore._layout.WORKSPACE`` (the same table gives the offsets, the
   allocation size and the Python driver's views).
3. Checks every page of ``docs/``: relative links and images must point to
   files that exist.

Only the standard library, numpy and lsqcore itself are used: no network,
no documentation toolchain.  The Markdown renders on GitHub or with any
Markdown viewer.

Options: ``--out FILE`` writes the reference elsewhere; ``--strict`` turns
broken links into an error (exit status 1).  ``tests/test_docs.py`` runs
this build in CI.
"""
import argparse
import importlib
import inspect
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

#: modules whose ``__all__`` is documented, in this order
MODULES = ("lsqcore", "lsqcore.problems", "lsqcore.batch", "lsqcore.xarray", "lsqcore.models")
#: objects documented although not in an ``__all__``: (title, module, name)
EXTRA = (("result.trace", "lsqcore._trace", "Trace"),)
LIST_SECTIONS = {"Parameters", "Returns", "Yields", "Raises", "Attributes", "Other Parameters",
                 "Warns", "Receives"}


# ------------------------------------------------------------------ numpydoc -> Markdown

def rst_inline(text):
    """The inline reST of our docstrings as Markdown."""
    text = re.sub(r":(?:func|class|meth|mod|attr|data|obj|exc):`~?([^`]+)`", r"`\1`", text)
    text = re.sub(r"``([^`]+)``", r"`\1`", text)
    return text


def split_sections(doc):
    """``[(title or None, [lines])]`` of a cleaned numpydoc docstring."""
    lines = doc.splitlines()
    out = [(None, [])]
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if (line.strip() and set(nxt.strip()) == {"-"}
                and len(nxt.strip()) == len(line.strip()) and not line.startswith(" ")):
            out.append((line.strip(), []))
            i += 2
            continue
        out[-1][1].append(line)
        i += 1
    return out


def render_prose(lines):
    """Paragraphs; ``.. math::`` and ``::`` literal blocks become code blocks."""
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        literal = line.strip().startswith(".. math::") or line.rstrip().endswith("::")
        if literal:
            if not line.strip().startswith(".."):
                out.append(rst_inline(line.rstrip()[:-1]))
            i += 1
            block = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            while block and not block[0].strip():
                block.pop(0)
            if block:
                ind = min(len(b) - len(b.lstrip()) for b in block if b.strip())
                out.append("```")
                out.extend(b[ind:] for b in block)
                out.append("```")
                out.append("")
            continue
        if line.strip().startswith(".. ["):
            line = line.strip()[3:]
        out.append(rst_inline(line))
        i += 1
    return out


def render_list(lines):
    """``name : type`` entries with indented descriptions, as a bullet list."""
    out = []
    entry = None
    desc = []

    def flush():
        if entry is None:
            return
        name, _, typ = entry.partition(" : ")
        head = f"- **{rst_inline(name.strip())}**"
        if typ.strip():
            head += f" (*{rst_inline(typ.strip())}*)"
        text = " ".join(d.strip() for d in desc if d.strip())
        out.append(head + (": " + rst_inline(text) if text else ""))

    for line in lines:
        if line.strip() and not line.startswith(" "):
            flush()
            entry, desc = line, []
        elif entry is not None:
            desc.append(line)
    flush()
    return out


def render_examples(lines):
    body = [ln for ln in lines]
    while body and not body[-1].strip():
        body.pop()
    while body and not body[0].strip():
        body.pop(0)
    if not body:
        return []
    return ["```python"] + body + ["```"]


def render_doc(doc, level=4):
    doc = inspect.cleandoc(doc or "")
    doc = re.sub(r"``([^`]+?)``", r"`\1`", doc, flags=re.S)     # literals across lines
    if not doc:
        return ["*(no docstring)*"]
    out = []
    for title, lines in split_sections(doc):
        if title is None:
            out.extend(render_prose(lines))
            continue
        out.append("")
        out.append("#" * level + " " + title)
        out.append("")
        if title in LIST_SECTIONS:
            out.extend(render_list(lines))
        elif title == "Examples":
            out.extend(render_examples(lines))
        else:
            out.extend(render_prose(lines))
    return out


# ------------------------------------------------------------------ objects

def signature(obj, name):
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return f"{name}(...)"
    params = list(sig.parameters.values())
    if params and params[0].name in ("self", "cls"):
        sig = sig.replace(parameters=params[1:])
    return f"{name}{sig}"


def _heading(anchor, title, obj, qualname):
    """Heading, signature block and docstring of a class or callable."""
    return ([f'### <a id="{anchor}"></a>{title}', "", "```python",
             signature(obj, qualname), "```", ""] + list(render_doc(obj.__doc__)))


def describe(qualname, obj):
    """Markdown for one public object."""
    out = []
    anchor = qualname.replace(".", "-").lower()
    if inspect.isclass(obj):
        out.extend(_heading(anchor, f"class `{qualname}`", obj, qualname))
        members = []
        for mname, member in inspect.getmembers(obj):
            if mname.startswith("_") or mname not in obj.__dict__:
                continue
            raw = obj.__dict__[mname]
            if isinstance(raw, property):
                members.append((mname, "property", raw.__doc__))
            elif inspect.isfunction(raw) or isinstance(raw, (classmethod, staticmethod)):
                members.append((mname, signature(member, mname), member.__doc__))
        for mname, sig, doc in members:
            out.append("")
            out.append(f"#### `{qualname}.{mname if sig == 'property' else sig}`"
                       + (" (property)" if sig == "property" else ""))
            out.append("")
            out.extend(render_doc(doc, level=5))
    elif callable(obj):
        out.extend(_heading(anchor, f"`{qualname}`", obj, qualname))
    else:
        out.append(f'### <a id="{anchor}"></a>`{qualname}`')
        out.append("")
        out.append(f"Constant: `{qualname} = {obj!r}`")
    out.append("")
    return out


def public_names():
    """``[(module name, module, [names])]`` of the documented modules that import."""
    found = []
    for modname in MODULES:
        try:
            mod = importlib.import_module(modname)
        except ImportError:
            continue
        names = list(getattr(mod, "__all__", []))
        found.append((modname, mod, names))
    return found


def cli_help():
    """The ``--help`` text of every ``python -m lsqcore`` command."""
    from lsqcore import cli
    os.environ["COLUMNS"] = "100"        # argparse wraps to the terminal: fix the width
    parser = argparse.ArgumentParser(prog="python -m lsqcore")
    sub = parser.add_subparsers(dest="command")
    out = []
    for name in cli.COMMANDS:
        try:
            mod = importlib.import_module(f"lsqcore.cli.{name}")
        except ModuleNotFoundError:
            continue
        mod.add_parser(sub)
        p = sub.choices[name]
        p.prog = f"python -m lsqcore {name}"
        text = p.format_help()
        out.append(f"### `python -m lsqcore {name}`")
        out.append("")
        doc = inspect.getdoc(mod) or ""
        first = doc.split("\n\n")[1:2]
        if first:
            out.extend(rst_inline(ln) for ln in first[0].splitlines())
            out.append("")
        out.append("```text")
        out.extend(text.rstrip().splitlines())
        out.append("```")
        out.append("")
    return out


def build_api():
    import lsqcore
    lines = [
        "# API reference",
        "",
        "<!-- Generated by `python docs/build.py` from the numpydoc docstrings; "
        "do not edit by hand. -->",
        "",
        f"lsqcore {lsqcore.__version__}.  Generated from the docstrings by "
        "`python docs/build.py`.",
        "",
    ]
    found = public_names()
    toc = ["## Contents", ""]
    body = []
    for modname, mod, names in found:
        toc.append(f"- [`{modname}`](#{modname.replace('.', '')})")
        body.append(f"## `{modname}`")
        body.append("")
        mdoc = inspect.getdoc(mod) or ""
        intro = mdoc.split("\n\n")
        body.extend(render_prose(intro[0].splitlines()))
        if modname != "lsqcore" and len(intro) > 1:
            body.append("")
            body.extend(render_doc("\n\n".join(intro[1:])))
        body.append("")
        for name in names:
            obj = getattr(mod, name)
            qual = f"{modname}.{name}"
            toc.append(f"  - [`{qual}`](#{qual.replace('.', '-').lower()})")
            body.extend(describe(qual, obj))
    body.append("## Iteration traces")
    body.append("")
    for title, modname, name in EXTRA:
        obj = getattr(importlib.import_module(modname), name)
        toc.append(f"- [`{title}`: `{name}`](#{name.lower()})")
        body.append(f"`{title}` (with `trace=True`) is a `{name}`:")
        body.append("")
        body.extend(describe(name, obj))
    toc.append("- [Command line](#command-line)")
    body.append("## Command line")
    body.append("")
    body.extend(cli_help())
    return "\n".join(lines + toc + [""] + body).rstrip() + "\n"


# ------------------------------------------------------------------ checks

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def check_links(docs_dir=HERE):
    """Broken relative links and images in the Markdown pages: ``[(page, target)]``."""
    broken = []
    for dirpath, _, files in os.walk(docs_dir):
        for f in sorted(files):
            if not f.endswith(".md"):
                continue
            page = os.path.join(dirpath, f)
            with open(page, encoding="utf-8") as fh:
                text = fh.read()
            text = re.sub(r"```.*?```", "", text, flags=re.S)    # not in code blocks
            for target in LINK.findall(text):
                if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                    continue
                path = target.split("#", 1)[0]
                if not os.path.exists(os.path.normpath(os.path.join(dirpath, path))):
                    broken.append((os.path.relpath(page, ROOT), target))
    return broken


WORKSPACE_INTRO = """# The solver's workspace

<!-- Generated by `python docs/build.py` from lsqcore._layout.WORKSPACE: edit the table there. -->

A solve owns two flat arrays: the integer record `S` (sizes, options, counters, the
phase of the ask/tell state machine, and the offset of every array below) and the float
workspace `W`, which starts with %d scalar registers (`Delta`, `cost`, ...) followed by
the arrays of this table, in this order.  `lsqcore._layout.init_layout` writes the
offsets, `workspace_shape` adds up the sizes and `numpy_view` gives the Python driver its
views, all from the one table `lsqcore._layout.WORKSPACE`; compiled code reaches an array
through `vec(W, S, slot, length)` / `mat(W, S, slot, rows, cols)`.  Sizes are in terms
of `m` (residuals) and `n` (parameters); an array that is not present takes no room (or
shares another array's place, as `O_FS` shares `O_F` for the linear loss).  The last
column names what else a buffer holds in some phase of the solve: a new use of a buffer
goes into that column, or the buffer gets a row of its own.

To add an array: add a row to `WORKSPACE` (and its name to the slot list `O_*` in
`lsqcore/_layout.py`), then run `python docs/build.py`.

"""


def build_workspace():
    """``docs/workspace.md``: the workspace table of :mod:`lsqcore._layout`."""
    from lsqcore import _layout
    scalars = ", ".join("`%s`" % n for n in ("FTOL", "XTOL", "GTOL", "FSCALE", "DELTA",
                                               "ALPHA", "COST", "COST_NEW", "..."))
    return (WORKSPACE_INTRO % _layout.N_SCALARS + _layout.workspace_markdown() + "\n\n"
            + "Scalar registers (start of `W`): %s; see `lsqcore/_layout.py`.\n" % scalars)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(HERE, "api.md"),
                    help="where to write the API reference (default docs/api.md)")
    ap.add_argument("--workspace-out", default=os.path.join(HERE, "workspace.md"),
                    help="where to write the workspace page (default docs/workspace.md)")
    ap.add_argument("--strict", action="store_true", help="broken links are an error")
    args = ap.parse_args(argv)
    sys.path.insert(0, ROOT)
    for out, text in ((args.out, build_api()), (args.workspace_out, build_workspace())):
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(text)
        print(f"wrote {out} ({len(text.splitlines())} lines)")
    broken = check_links()
    for page, target in broken:
        print(f"broken link in {page}: {target}", file=sys.stderr)
    if broken and args.strict:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
