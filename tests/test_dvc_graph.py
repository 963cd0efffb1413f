"""dvc.yaml tells the truth: what each stage loads, reads and writes is what the stage declares.

For every stage (``foreach`` items expanded):

* code: the project files its script can load are among its ``deps`` (a dep may be a
  folder), and no code dep is out of its reach. The set is the static import closure of
  the script over ``src/emopillars`` and ``stages/``: module-level imports, and the
  imports inside a function or class once a file of the closure mentions it by name
  (``main()`` and the engine import lazily; a module imported there changes the outputs
  when it runs). Static, so it is deterministic and needs no model or data; a fresh
  process per script (forked before any project module is loaded) confirms that the
  closure holds everything that importing the script loads. Package ``__init__.py``
  files that hold only a docstring are left out. A stage script that imports another
  stage script is an error by itself: shared code belongs in the library.
* files: the ``prompts/<name>.j2`` templates of the steps and functions the script
  uses, ``matplotlibrc`` where matplotlib is imported, and the templates that
  ``get_template`` loads from the stage's ``--templates`` folder.
* params: the keys of ``params.yaml`` the script reads, followed through the functions
  it hands params (or a section) to, are covered by its ``params:``, and every
  declared key is read. A section used whole (stored, or passed where it cannot be
  followed) counts as read whole.
* arguments: every option of the script's parser is ``--params``, a path declared in
  the stage (deps, outs, metrics, plots) or the ``foreach`` item; a knob is a param.
* outputs: every output path on the command line is declared in ``outs``/``metrics``/
  ``plots``, and every declared output is written by one of the command's paths.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
import typing
from functools import lru_cache
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from emopillars.config import Params

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
STAGES = ROOT / "stages"
PROMPTS = "prompts"

# Options a stage may take that are neither a path nor a param, each with the reason.
ARGUMENT_ALLOW = {
    # given the foreach item: the stage's name carries it, and dvc.yaml fixes it per stage
    ("train", "variant"), ("transfer", "benchmark"), ("zeroshot", "benchmark"), ("peers", "peer"),
    ("crossdomain", "benchmark"),
}
# Params the analysis finds read where the stage cannot reach them, each with the reason.
READ_ALLOW = {
    # benchmark_root() falls back to data.out_dir without a raw_dir; these stages always pass --raw-dir
    ("transfer", "data.out_dir"), ("zeroshot", "data.out_dir"), ("targets", "data.out_dir"),
    ("llm_baseline", "data.out_dir"), ("peers", "data.out_dir"), ("crossdomain", "data.out_dir"),
    # benchmark_root() maps only the wikiplots corpus to data.wikiplots_dir, never a benchmark
    ("transfer", "data.wikiplots_dir"), ("zeroshot", "data.wikiplots_dir"), ("targets", "data.wikiplots_dir"),
    ("llm_baseline", "data.wikiplots_dir"), ("peers", "data.wikiplots_dir"), ("crossdomain", "data.wikiplots_dir"),
}
# Option names whose value a stage writes (unless the stage lists the value in its deps: then it reads it).
OUTPUT_OPTION = re.compile(r"^(out|out_dir|metrics|metrics_dir|predictions_dir|rejects|generation_stats|stats|full|"
                           r"numbers|plots|key)$")


# --------------------------------------------------------------------------- dvc.yaml
def _lookup(ctx: dict, dotted: str):
    value = ctx
    for part in dotted.split("."):
        value = value[part]
    return value


def _interpolate(value, ctx: dict):
    if isinstance(value, str):
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(_lookup(ctx, m.group(1).strip())), value)
    if isinstance(value, list):
        return [_interpolate(v, ctx) for v in value]
    if isinstance(value, dict):
        return {_interpolate(k, ctx): _interpolate(v, ctx) for k, v in value.items()}
    return value


def _names(entries) -> list[str]:
    """Paths or keys of a deps/outs/params list (entries may be ``{path: {options}}``)."""
    out = []
    for e in entries or []:
        out += list(e) if isinstance(e, dict) else [e]
    return out


@lru_cache(maxsize=None)
def dvc_stages() -> dict[str, dict]:
    """Every stage of dvc.yaml by its DVC name (``transfer@isear``), ``foreach`` expanded, ``${...}`` resolved."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    stages = {}
    for name, stage in yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"].items():
        if "foreach" not in stage:
            stages[name] = {**_interpolate(stage, params), "item": None, "base": name}
            continue
        items = _interpolate(stage["foreach"], params)
        if isinstance(items, str):  # "${transfer.benchmarks}" resolves to a list
            items = _lookup(params, re.fullmatch(r"\$\{(.+)\}", stage["foreach"]).group(1))
        for item in items:
            stages[f"{name}@{item}"] = {**_interpolate(stage["do"], {**params, "item": item}), "item": item,
                                        "base": name}
    return stages


def command(stage: dict) -> tuple[str, dict[str, str]]:
    """The stage's script and its ``--option value`` pairs (option names with ``_`` for ``-``)."""
    tokens = shlex.split(stage["cmd"])
    assert tokens[0] == "python" and tokens[1].startswith("stages/"), stage["cmd"]
    opts, rest = {}, tokens[2:]
    for i, tok in enumerate(rest):
        if tok.startswith("--"):
            value = rest[i + 1] if i + 1 < len(rest) and not rest[i + 1].startswith("--") else None
            opts[tok[2:].replace("-", "_")] = value
    return tokens[1], opts


def covered(path: str, declared: list[str]) -> bool:
    """``path`` is a declared path or lies inside a declared folder."""
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in declared)


def overlaps(path: str, declared: list[str]) -> bool:
    """``path`` is covered by a declared path, or is a folder holding one."""
    return covered(path, declared) or any(covered(d, [path]) for d in declared)


# --------------------------------------------------------------------------- import closure
def _module_file(name: str) -> Path | None:
    base = SRC.joinpath(*name.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _module_name(path: Path) -> str | None:
    if not path.is_relative_to(SRC):
        return None
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@lru_cache(maxsize=None)
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported_files(path: Path) -> tuple[set[Path], dict[str, set[Path]]]:
    """Project files ``path`` imports at module level, and per top-level def or class those it imports inside.

    Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` first, so packages count too.
    """
    here = _module_name(path)
    package = here if path.name == "__init__.py" else (here.rpartition(".")[0] if here else None)

    def files_of(node) -> set[Path]:
        out: set[Path] = set()

        def add(name: str) -> None:
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                f = _module_file(".".join(parts[:i]))
                if f:
                    out.add(f)
            if len(parts) == 1 and path.is_relative_to(STAGES) and (STAGES / f"{name}.py").is_file():
                out.add(STAGES / f"{name}.py")  # a stage script imported through sys.path

        for sub in ast.walk(node):
            if isinstance(sub, ast.Import):
                for a in sub.names:
                    add(a.name)
            elif isinstance(sub, ast.ImportFrom):
                base = sub.module or ""
                if sub.level:
                    anchor = package.split(".")[: len(package.split(".")) - sub.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                add(base)
                for a in sub.names:  # `from emopillars.synth import stagekit` imports a module
                    if _module_file(f"{base}.{a.name}"):
                        add(f"{base}.{a.name}")
        return out

    top, lazy = set(), {}
    for node in _tree(path).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            lazy[node.name] = files_of(node)
        else:
            top |= files_of(node)
    return top, lazy


@lru_cache(maxsize=None)
def _names_used(path: Path) -> frozenset[str]:
    """Every name and attribute a file mentions: what it may call."""
    names = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.name for a in node.names)
    return frozenset(names)


@lru_cache(maxsize=None)
def import_closure(script: str) -> frozenset[Path]:
    """Project files the script can load: module-level imports, and the imports inside a function or class
    once some file of the closure mentions that function or class by name (``main()`` imports lazily)."""
    files: set[Path] = set()
    todo = [ROOT / script]
    while True:
        while todo:
            f = todo.pop()
            if f not in files:
                files.add(f)
                todo += _imported_files(f)[0]
        used = set().union(*(_names_used(f) for f in files)) | {"main"}
        todo = [g for f in files for name, found in _imported_files(f)[1].items() if name in used
                for g in found if g not in files]
        if not todo:
            return frozenset(files)


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# --------------------------------------------------------------------------- prompt templates
@lru_cache(maxsize=None)
def _index(path: Path) -> tuple[dict, dict, dict]:
    """A module's top-level defs and classes, its literal constants, and its ``from x import y`` names."""
    defs, values, imported = {}, {}, {}
    tree = _tree(path)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defs[node.name] = node
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) \
            else []
        for t in targets:
            if isinstance(t, ast.Name) and node_value(node) is not None:
                try:
                    values[t.id] = ast.literal_eval(node.value)
                except ValueError:
                    pass
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                imported.setdefault(a.asname or a.name, (node.module, a.name))
    return defs, values, imported


@lru_cache(maxsize=None)
def _resolve_name(module_path: Path, name: str):
    """What ``name`` refers to in a module: ``(file, node)`` of a def or class, or ``(None, literal value)``."""
    defs, values, imported = _index(module_path)
    if name in defs:
        return module_path, defs[name]
    if name in values:
        return None, values[name]
    if name in imported:
        module, attr = imported[name]
        target = _module_file(module)
        if target is None and (STAGES / f"{module}.py").is_file():
            target = STAGES / f"{module}.py"
        if target is not None and not _module_file(f"{module}.{attr}"):
            return _resolve_name(target, attr)
    return None, None


def node_value(node):
    return getattr(node, "value", None) if isinstance(node, (ast.Assign, ast.AnnAssign)) else None


def _class_attr(cls: ast.ClassDef, attr: str):
    for node in cls.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == attr for t in node.targets):
            if isinstance(node.value, ast.Constant):
                return node.value.value
    return None


SELF_NAMED = object()  # a template the class names by its own ``name`` / ``template_name`` attribute


def _templates_of(module_path: Path, node, seen: set) -> set[str]:
    """Template names a def or class loads with ``load_template``, following calls by name in its module."""
    key = (module_path, node.name)
    if key in seen:
        return set()
    seen.add(key)
    found = set()
    for sub in ast.walk(node):
        if not isinstance(sub, ast.Call):
            continue
        func = sub.func.id if isinstance(sub.func, ast.Name) else None
        if func == "load_template" and sub.args:
            arg = sub.args[0]
            if isinstance(arg, ast.Constant):
                found.add(arg.value)
            elif isinstance(arg, ast.Name):
                found.add(_resolve_name(module_path, arg.id)[1])
            elif isinstance(node, ast.ClassDef):  # self.name / self.template_name: named by each subclass
                found.add(SELF_NAMED)
        elif func:
            target, callee = _resolve_name(module_path, func)
            if isinstance(callee, (ast.FunctionDef, ast.ClassDef)):
                found |= _templates_of(target, callee, seen)
    if isinstance(node, ast.ClassDef):
        for base in node.bases:
            if isinstance(base, ast.Name):
                target, parent = _resolve_name(module_path, base.id)
                if isinstance(parent, ast.ClassDef):
                    found |= _templates_of(target, parent, set())
        own = _class_attr(node, "template_name") or _class_attr(node, "name")
        if SELF_NAMED in found and own:
            found = (found - {SELF_NAMED}) | {own}
    return found - {None}


def prompt_templates(script: str) -> set[str]:
    """``prompts/<name>.j2`` files the stage script's steps and functions load."""
    path = ROOT / script
    names = {a.asname or a.name for n in ast.walk(_tree(path)) if isinstance(n, ast.ImportFrom) for a in n.names}
    found = set()
    for name in names:
        target, node = _resolve_name(path, name)
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found |= _templates_of(target, node, set())
    return {f"{PROMPTS}/{n}.j2" for n in found if isinstance(n, str)}


# --------------------------------------------------------------------------- params read
def _section_model(model: type[BaseModel], field: str) -> type[BaseModel] | None:
    info = model.model_fields.get(field)
    if info is None:
        return None
    for t in (info.annotation, *typing.get_args(info.annotation)):
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
    return None


def _schema_at(path: tuple) -> type[BaseModel] | None:
    model = Params
    for part in path:
        model = _section_model(model, part) if model else None
    return model


def _derives_a_seed(path: tuple) -> bool:
    """Whether reading ``path`` (a key or a whole section) reads a per-stage seed, which is derived from the
    root ``seed`` when null (emopillars.config.derive_seed)."""
    from emopillars.config import _DerivedWhenNull

    def derived(model: type[BaseModel]) -> bool:
        return any(any(isinstance(m, _DerivedWhenNull) for m in info.metadata)
                   or (_section_model(model, name) is not None and derived(_section_model(model, name)))
                   for name, info in model.model_fields.items())

    section = _schema_at(path)
    if section is not None:
        return path != () and derived(section)
    parent = _schema_at(path[:-1])
    info = parent.model_fields.get(path[-1]) if parent is not None else None
    return info is not None and any(isinstance(m, _DerivedWhenNull) for m in info.metadata)


def _is_field(path: tuple, attr: str) -> bool:
    model = _schema_at(path)
    return model is not None and attr in model.model_fields


def _params_root(value: ast.expr) -> tuple | None:
    """``load_params(...)`` / ``stagekit.load(...)``, optionally followed by section attributes."""
    attrs = []
    while isinstance(value, ast.Attribute):
        attrs.insert(0, value.attr)
        value = value.value
    if isinstance(value, ast.Call):
        f = value.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
        module = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else None
        if name == "load_params" or (name == "load" and module == "stagekit"):
            return tuple(attrs)
    return None


def _callee(module_path: Path, func: ast.expr):
    """``(file, FunctionDef, skip_first)`` of a call's target when it is project code, else None."""
    if isinstance(func, ast.Name):
        target, node = _resolve_name(module_path, func.id)
    elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        target, node = _resolve_name(module_path, func.value.id)
        if node is None:  # a module: `stagekit.engine_session`
            module, attr = _index(module_path)[2].get(func.value.id, (None, None))
            mod = _module_file(f"{module}.{attr}") if module else None
            return _callee(mod, ast.Name(func.attr)) if mod else None
        if isinstance(node, ast.ClassDef):  # `Engine.from_params`: a classmethod
            node = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == func.attr), None)
            return (target, node, True) if node else None
        return None
    else:
        return None
    if isinstance(node, ast.ClassDef):
        init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
        return (target, init, True) if init else None
    return (target, node, False) if isinstance(node, ast.FunctionDef) else None


def params_read(module_path: Path, func: ast.AST, env: dict[str, tuple], depth: int = 0) -> set[tuple]:
    """Params paths (``("transfer", "seed")``) read in ``func`` where ``env`` maps names to params paths."""
    env = dict(env)
    reads: set[tuple] = set()

    def chain(node) -> tuple[tuple, list[str]] | None:
        attrs = []
        while isinstance(node, ast.Attribute):
            attrs.insert(0, node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in env:
            return env[node.id], attrs
        return None

    def value_path(node) -> tuple | None:
        """The params path of an expression that is a section or key, walking schema fields."""
        found = chain(node)
        if found is None:
            return None
        path, attrs = found
        for a in attrs:
            if not _is_field(path, a):
                reads.add(path)  # a method or non-field attribute: the object is read whole
                return None
            path = path + (a,)
        return path

    def passed(path: tuple, call: ast.Call, arg_index: int | None, keyword: str | None) -> None:
        if _schema_at(path) is None:  # a leaf value
            reads.add(path)
            return
        target = _callee(module_path, call.func)
        if target is None or target[1] is None or depth > 6:
            if isinstance(call.func, ast.Name) and call.func.id == "getattr" and arg_index == 0:
                names = _getattr_names(module_path, call.args[1])
                if names:
                    reads.update(path + (n,) for n in names)
                    return
            reads.add(path)
            return
        file, fdef, skip = target
        if file == SRC / "emopillars" / "benchmarks.py" and fdef.name == "read_splits":
            # the registry reads the params its definitions name (by dotted path, out of the walk's sight)
            from emopillars import benchmarks

            reads.update(tuple(p.split(".")) for p in benchmarks.params_read() + ("data.out_dir",))
            return
        args = [a.arg for a in fdef.args.posonlyargs + fdef.args.args][1 if skip else 0:]
        name = keyword if keyword else (args[arg_index] if arg_index < len(args) else None)
        if name is None or (keyword and keyword not in args + [a.arg for a in fdef.args.kwonlyargs]):
            reads.add(path)
            return
        reads.update(params_read(file, fdef, {name: path}, depth + 1))

    def visit(node, parent=None) -> None:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Tuple) and \
                isinstance(node.value, ast.Tuple) and len(node.targets[0].elts) == len(node.value.elts):
            for target, value in zip(node.targets[0].elts, node.value.elts):
                visit(ast.Assign(targets=[target], value=value))
            return
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            root = _params_root(node.value)
            if root is None and isinstance(node.value, (ast.Attribute, ast.Name)) and chain(node.value):
                root = value_path(node.value)
                if root is not None and _schema_at(root) is None:
                    reads.add(root)
                    root = None
            if root is not None:
                env[node.targets[0].id] = root
                return
        if isinstance(node, ast.Call):
            visit(node.func, node)
            for i, a in enumerate(node.args):
                path = value_path(a) if isinstance(a, (ast.Attribute, ast.Name)) else None
                if path is not None:
                    passed(path, node, i, None)
                else:
                    visit(a, node)
            for k in node.keywords:
                path = value_path(k.value) if isinstance(k.value, (ast.Attribute, ast.Name)) else None
                if path is not None:
                    passed(path, node, None, k.arg)
                else:
                    visit(k.value, node)
            return
        if isinstance(node, (ast.Attribute, ast.Name)) and chain(node):
            path = value_path(node)
            if path is not None:
                reads.add(path)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, node)

    body = func.body if isinstance(func, (ast.FunctionDef, ast.Module)) else [func]
    for stmt in body:
        visit(stmt)
    return reads


def _getattr_names(module_path: Path, arg: ast.expr) -> list[str] | None:
    """``getattr(section, TABLE[key])`` with a module-level dict of field names: every name it can take."""
    if isinstance(arg, ast.Constant):
        return [arg.value]
    if isinstance(arg, ast.Subscript) and isinstance(arg.value, ast.Name):
        table = _resolve_name(module_path, arg.value.id)[1]
        if isinstance(table, dict) and all(isinstance(v, str) for v in table.values()):
            return sorted(table.values())
    return None


def stage_params_read(script: str) -> set[str]:
    path = ROOT / script
    main = next(n for n in _tree(path).body if isinstance(n, ast.FunctionDef) and n.name == "main")
    return {".".join(p) for p in params_read(path, main, {})}


def params_covered(key: str, declared: list[str]) -> bool:
    return any(key == d or key.startswith(d + ".") for d in declared)


# --------------------------------------------------------------------------- runtime: imports and parser
# One interpreter imports the heavy third-party packages once, then forks a child per stage script: the child
# starts with no project module loaded, imports the script, and reports the project files now loaded and the
# options its parser declares (``main([])`` runs until ``parse_args``, which stops it).
PROBE = textwrap.dedent("""
    import argparse, importlib, json, os, runpy, sys
    from pathlib import Path
    root = Path(sys.argv[1]).resolve()
    for name in ("numpy", "torch", "transformers", "pydantic", "yaml", "jinja2", "scipy", "sklearn"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    class Captured(Exception):
        pass
    def probe(script):
        options = []
        def capture(self, args=None, namespace=None):
            for a in self._actions:
                if a.option_strings and a.dest != "help":
                    options.append({"dest": a.dest, "required": a.required, "default": a.default})
            raise Captured
        argparse.ArgumentParser.parse_args = capture
        g = runpy.run_path(str(root / script), run_name="stage_probe")
        loaded = sorted({Path(m.__file__).resolve().relative_to(root).as_posix() for m in list(sys.modules.values())
                         if getattr(m, "__file__", None) and Path(m.__file__).is_absolute()
                         and any(Path(m.__file__).resolve().is_relative_to(root / d) for d in ("src", "stages"))})
        try:
            g["main"]([])
        except Captured:
            pass
        return {"loaded": loaded, "options": options}
    for script in sys.argv[2:]:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            try:
                out = json.dumps({"script": script, **probe(script)})
            except BaseException as e:
                out = json.dumps({"script": script, "error": repr(e)})
            with os.fdopen(write, "w") as f:
                f.write(out)
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as f:
            print(f.read(), flush=True)
        os.waitpid(pid, 0)
""")


@lru_cache(maxsize=None)
def probe_scripts() -> dict[str, dict]:
    """Per stage script, in a fresh process: the project files loaded by importing it, and its parser's options."""
    scripts = sorted({command(s)[0] for s in dvc_stages().values()})
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_WAIT_POLICY": "PASSIVE"}
    done = subprocess.run([sys.executable, "-c", PROBE, str(ROOT), *scripts], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    results = {r["script"]: r for r in map(json.loads, done.stdout.splitlines())}
    errors = {s: r["error"] for s, r in results.items() if "error" in r}
    assert not errors and set(results) == set(scripts), (errors, done.stderr[-2000:])
    return results


@pytest.fixture(scope="module")
def probes() -> dict[str, dict]:
    return probe_scripts()


# --------------------------------------------------------------------------- findings
def _holds_no_code(path: Path) -> bool:
    """A docstring and ``__version__`` only: loading it changes no output."""
    body = _tree(path).body
    return all((isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)) or
               (isinstance(n, ast.Assign) and [getattr(t, "id", None) for t in n.targets] == ["__version__"])
               for n in body)


def per_stage(check) -> dict[str, list[str]]:
    """Stage -> the problems ``check(stage)`` finds, for the stages where it finds any."""
    found = {name: check(stage) for name, stage in dvc_stages().items()}
    return {name: problems for name, problems in found.items() if problems}


def _stage_imports(stage: dict) -> list[str]:
    script, _ = command(stage)
    others = [rel(f) for f in sorted(import_closure(script)) if f.is_relative_to(STAGES) and rel(f) != script]
    return [f"imports stage script {f} (shared code belongs in src/emopillars)" for f in others]


def opened_files(script: str, opts: dict[str, str]) -> set[str]:
    """Project files the stage's code opens by name: ``matplotlibrc`` (read from the working directory once
    matplotlib is imported) and the templates ``get_template("...")`` loads from the ``--templates`` folder."""
    found = set()
    for f in import_closure(script):
        for node in ast.walk(_tree(f)):
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "matplotlib" for a in node.names):
                found.add("matplotlibrc")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr == "get_template" and node.args and isinstance(node.args[0], ast.Constant)):
                if opts.get("templates"):
                    found.add(f"{opts['templates'].rstrip('/')}/{node.args[0].value}")
    return found


def _code_problems(stage: dict) -> list[str]:
    script, opts = command(stage)
    deps = _names(stage.get("deps"))
    files = sorted(rel(f) for f in import_closure(script) if not (f.name == "__init__.py" and _holds_no_code(f)))
    files += sorted(prompt_templates(script) | opened_files(script, opts))
    problems = [f"missing dep {f}" for f in files if not covered(f, deps)]
    # code declared but out of the stage's reach reruns it for nothing
    return problems + [f"declares {d}, which it never loads" for d in deps
                       if d.startswith(("src/", "stages/", f"{PROMPTS}/")) and not any(covered(f, [d]) for f in files)]


def _params_problems(stage: dict) -> list[str]:
    script, opts = command(stage)
    declared = [str(p) for p in _names(stage.get("params"))]
    read = stage_params_read(script) if "params" in opts else set()
    if any(_derives_a_seed(tuple(k.split("."))) for k in read):
        read.add("seed")
    problems = [f"reads {k}, not in params" for k in sorted(read)
                if not params_covered(k, declared) and (stage["base"], k) not in READ_ALLOW]
    return problems + [f"declares {d}, never read" for d in declared
                       if not any(params_covered(k, [d]) or params_covered(d, [k]) for k in read)]


def _argument_problems(stage: dict, probes: dict[str, dict]) -> list[str]:
    script, opts = command(stage)
    declared = sum((_names(stage.get(k)) for k in ("deps", "outs", "metrics", "plots")), [])
    problems = []
    for opt in probes[script]["options"]:
        dest, flag = opt["dest"], "--" + opt["dest"].replace("_", "-")
        value = opts.get(dest)
        if dest == "params" or ((stage["base"], dest) in ARGUMENT_ALLOW and value == stage["item"]):
            continue
        if value is None:
            problems.append(f"{flag} is not on the command line (default {opt['default']!r}): a knob outside params")
        elif not overlaps(value, declared):
            problems.append(f"{flag} {value} is neither a declared path nor a param")
    return problems


def _output_problems(stage: dict) -> list[str]:
    _, opts = command(stage)
    deps = _names(stage.get("deps"))
    outs = sum((_names(stage.get(k)) for k in ("outs", "metrics", "plots")), [])
    written = {k: v for k, v in opts.items() if v and OUTPUT_OPTION.match(k) and not covered(v, deps)}
    problems = [f"writes {v} (--{k.replace('_', '-')}), not in outs/metrics"
                for k, v in written.items() if not overlaps(v, outs)]
    # every declared output is a value on the command line, or inside a folder given there
    return problems + [f"declares output {o}, no option writes it" for o in outs
                       if not covered(o, [v for v in opts.values() if v])]


def stage_imports() -> dict[str, list[str]]:
    return per_stage(_stage_imports)


def code_findings() -> dict[str, list[str]]:
    return per_stage(_code_problems)


def params_findings() -> dict[str, list[str]]:
    return per_stage(_params_problems)


def argument_findings(probes: dict[str, dict]) -> dict[str, list[str]]:
    return per_stage(lambda stage: _argument_problems(stage, probes))


def output_findings() -> dict[str, list[str]]:
    return per_stage(_output_problems)


def report(findings: dict[str, list[str]]) -> str:
    return "\n".join(f"{stage}: {p}" for stage, problems in findings.items() for p in problems)


# --------------------------------------------------------------------------- tests
def test_every_stage_is_found_with_its_script():
    stages = dvc_stages()
    assert {"transfer@goemotions", "zeroshot@meld", "train@contextual", "dataset_stats"} <= set(stages)
    for name, stage in stages.items():
        assert (ROOT / command(stage)[0]).is_file(), name


def test_static_closure_holds_what_each_script_loads(probes):
    missed = {script: sorted(set(p["loaded"]) - {rel(f) for f in import_closure(script)})
              for script, p in probes.items()}
    missed = {s: m for s, m in missed.items() if m}
    assert not missed, f"the import walk misses files these scripts load: {missed}"


def test_no_stage_imports_another_stage():
    found = stage_imports()
    assert not found, "stage -> other stage scripts it imports:\n" + report(found)


def test_stage_deps_cover_its_code_and_prompts():
    findings = code_findings()
    assert not findings, "stage -> code it can load that is not in its deps:\n" + report(findings)


def test_stage_params_are_what_it_reads():
    findings = params_findings()
    assert not findings, "stage -> params read but not declared, or declared but not read:\n" + report(findings)


def test_every_knob_is_a_param(probes):
    findings = argument_findings(probes)
    assert not findings, "stage -> options that change outputs outside params:\n" + report(findings)


def test_stage_outputs_are_what_it_writes():
    findings = output_findings()
    assert not findings, "stage -> outputs written but undeclared, or declared but not written:\n" + report(findings)


# --------------------------------------------------------------------------- the checks can fail
def test_a_lazy_import_counts():
    """An import inside a function joins the closure: stagekit loads the engine only in engine_session()."""
    assert SRC / "emopillars/llm/engine.py" in import_closure("stages/characters.py")


def test_a_stage_importing_a_stage_is_reported(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("import sys\n\ndef main():\n    from b import helper\n")
    (tmp_path / "b.py").write_text("def helper():\n    pass\n")
    monkeypatch.setattr(sys.modules[__name__], "STAGES", tmp_path)
    assert tmp_path / "b.py" in _imported_files(tmp_path / "a.py")[1]["main"]


def test_the_prompts_of_each_step_are_found():
    assert prompt_templates("stages/characters.py") == {"prompts/characters.j2"}
    assert prompt_templates("stages/contexts.py") == {"prompts/contexts.j2", "prompts/labels.j2"}
    assert prompt_templates("stages/llm_baseline.py") == {"prompts/llm_baseline.j2"}
    assert prompt_templates("stages/curate.py") == set()


def test_files_opened_by_name_are_found():
    tables, figures = dvc_stages()["tables"], dvc_stages()["figures"]
    assert opened_files(*command(tables)) == {"reports/templates/table.tex.j2", "reports/templates/table.md.j2"}
    assert opened_files(*command(figures)) == {"matplotlibrc"}


def test_params_reads_follow_into_the_library():
    """Reads are found through sections handed to functions, and a section used whole counts whole."""
    read = stage_params_read("stages/utterances.py")
    assert {"utterances", "curate.near_dup_threshold", "curate.num_perm", "curate.seed", "seed"} <= read
    assert "llm" in read  # Engine.from_params(params.llm) through stagekit.engine_session
    assert "curate.min_words" not in read
    narratives = stage_params_read("stages/narratives.py")
    assert {"narratives.corpus", "narratives.n_passages", "narratives.seed"} <= narratives
    assert not any(k.startswith("llm") for k in narratives)


def test_a_missing_dep_and_an_undeclared_param_are_reported(monkeypatch):
    stages = {k: dict(v) for k, v in dvc_stages().items()}
    stages["curate"]["deps"] = [d for d in stages["curate"]["deps"] if d != "src/emopillars/synth/dedup.py"]
    stages["curate"]["params"] = [p for p in stages["curate"]["params"] if p != "curate"]
    stages["curate"]["outs"] = []
    monkeypatch.setattr(sys.modules[__name__], "dvc_stages", lambda: stages)
    assert "missing dep src/emopillars/synth/dedup.py" in code_findings()["curate"]
    assert "reads curate.min_words, not in params" in params_findings()["curate"]
    assert "writes data/emopillars (--out-dir), not in outs/metrics" in output_findings()["curate"]


def test_an_option_outside_params_is_reported():
    stage = dvc_stages()["dataset_stats"]
    options = [{"dest": "params", "required": False, "default": "params.yaml"},
               {"dest": "datasets", "required": True, "default": None},
               {"dest": "sample_per_class", "required": False, "default": 200}]
    found = _argument_problems(stage, {command(stage)[0]: {"options": options}})
    assert found == ["--sample-per-class is not on the command line (default 200): a knob outside params"]
