"""Every model call goes through `guarded`: scan imports and call sites of the whole code base.

A model call is: a chat-model method (`invoke`, `stream`, `batch`, `generate` and their async
forms) or an OpenAI/instructor `create*` in a module that imports a model client; an embedder
method (`embed`, `embed_windows`, `embed_one`) in a module that imports the concrete embedder;
a local engine's `generate`/`stream` in a module that imports the engine; and any explicit
`.forward(...)`. Each is allowed only where the reason below holds.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agents", "app", "graphs", "tools", "state", "evals")

CLIENT_MODULES = ("langchain_openai", "langchain_core.language_models", "openai", "instructor")
CHAT_METHODS = {
    "invoke",
    "ainvoke",
    "stream",
    "astream",
    "batch",
    "abatch",
    "generate",
    "agenerate",
}
CREATE_METHODS = {
    "create",
    "acreate",
    "create_with_completion",
    "create_partial",
    "create_iterable",
}
EMBEDDER_MODULES = ("tools.models.embedder",)
EMBED_METHODS = {"embed", "embed_windows", "embed_one"}
ENGINE_MODULES = ("tools.llm",)
ENGINE_METHODS = {"generate", "stream"}

# Where a model may be called directly, and why that is still inside the wrapper.
ALLOWED: dict[str, str] = {
    "agents/model_access.py": "ModelAccess: each call runs inside the closure passed to guarded()",
    "tools/guards/shared_embeddings.py": "the embedder memo: every miss runs inside guarded()",
    "tools/models/embedder.py": "the embedder model itself",
    "tools/llm/": "the embedded LLM engine itself; its requests arrive via guarded ModelAccess",
    "app/model_server.py": "the embedded OpenAI endpoint; its requests come from guarded clients",
    "evals/guards.py": "offline eval of the versioned injection dataset; no user text",
    "tools/routing/intent_classifier.py": (
        "calls only the embedder it is given: the composition root must give it the guarded "
        "SharedEmbeddings (tools/guards/assembly.py)"
    ),
}
CLOSURE_CHECKED = {"agents/model_access.py", "tools/guards/shared_embeddings.py"}


def _imports(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _uses(imports: set[str], prefixes: tuple[str, ...]) -> bool:
    return any(
        name == p or name.startswith(p + ".") or name.startswith(p)
        for name in imports
        for p in prefixes
    )


def _graph_call(func: ast.Attribute) -> bool:
    """`graph.stream(...)` / `graph.invoke(...)` run a LangGraph graph, not a model."""
    return isinstance(func.value, ast.Name) and func.value.id == "graph"


def model_calls(path: Path, *, skip_self: bool = False) -> list[tuple[int, str]]:
    """(line, method) of every model call site in one module.

    `skip_self` leaves out `self.embed(...)`-style calls, for the wrapper's own methods.
    """
    tree = ast.parse(path.read_text("utf-8"))
    imports = _imports(tree)
    watched: set[str] = {"forward"}
    if _uses(imports, CLIENT_MODULES):
        watched |= CHAT_METHODS | CREATE_METHODS
    if _uses(imports, EMBEDDER_MODULES):
        watched |= EMBED_METHODS
    if _uses(imports, ENGINE_MODULES):
        watched |= ENGINE_METHODS
    calls = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in watched
            and not _graph_call(node.func)
            and not (
                skip_self and isinstance(node.func.value, ast.Name) and node.func.value.id == "self"
            )
        ):
            calls.append((node.lineno, node.func.attr))
    return calls


def _allowed(relative: str) -> bool:
    return any(
        relative == key or (key.endswith("/") and relative.startswith(key)) for key in ALLOWED
    )


def test_no_module_calls_a_model_outside_the_wrapper():
    offenders = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if _allowed(relative):
                continue
            offenders += [f"{relative}:{line} .{name}()" for line, name in model_calls(path)]
    assert offenders == [], "model calls outside guarded(): " + ", ".join(offenders)


def _guarded_ranges(tree: ast.Module) -> list[tuple[int, int]]:
    """Line ranges of the functions and lambdas handed to `guarded(...)`."""
    defs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    ranges = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "guarded":
            for arg in node.args:
                targets = (
                    [d for d in defs if d.name == arg.id] if isinstance(arg, ast.Name) else [arg]
                )
                ranges += [
                    (t.lineno, t.end_lineno or t.lineno)
                    for t in targets
                    if isinstance(t, (ast.FunctionDef, ast.Lambda))
                ]
    return ranges


def test_wrapper_modules_call_models_only_inside_guarded_closures():
    for relative in CLOSURE_CHECKED:
        tree = ast.parse((ROOT / relative).read_text("utf-8"))
        ranges = _guarded_ranges(tree)
        assert ranges, f"{relative} never calls guarded()"
        outside = [
            f"{relative}:{line} .{name}()"
            for line, name in model_calls(ROOT / relative, skip_self=True)
            if name not in CREATE_METHODS and not any(a <= line <= b for a, b in ranges)
        ]
        assert outside == []


def test_the_scan_catches_a_direct_client_call(tmp_path):
    module = tmp_path / "rogue.py"
    module.write_text(
        "from langchain_openai import ChatOpenAI\n"
        "def answer(text):\n"
        "    return ChatOpenAI(model='m').invoke(text)\n"
        "from openai import OpenAI\n"
        "def raw(client: OpenAI):\n"
        "    return client.chat.completions.create(model='m', messages=[])\n"
    )
    assert model_calls(module) == [(3, "invoke"), (6, "create")]
