import ast
from pathlib import Path

REGISTRY = Path(__file__).resolve().parents[2] / "registry"
FRAMEWORKS = {"fastapi", "starlette", "uvicorn"}


def test_the_domain_never_imports_a_web_framework_at_module_level():
    offenders = []
    for path in REGISTRY.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only: the CLI starts uvicorn lazily
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FRAMEWORKS]
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("api"):
                offenders.append(f"{path.name}: {node.module}")
    assert not offenders, f"registry/ must stay framework-free: {offenders}"
