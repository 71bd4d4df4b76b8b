"""Run the Argo CD health script for ModelDeployment with a real Lua interpreter.

Argo CD runs resource-customization scripts in gopher-lua (Lua 5.1) with the
object as the global ``obj`` and only the base, table, string and math
libraries. This does the same with lupa's bundled Lua 5.1: the object becomes
nested Lua tables (lists 1-based, as Argo CD converts them), the script's
returned table is read back as ``{"status": ..., "message": ...}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lupa.lua51 as lua51

REPO = Path(__file__).resolve().parents[2]
CUSTOMIZATION = REPO / "manifests" / "argocd" / "resource_customizations" / "esml.io" / "ModelDeployment"
HEALTH_SCRIPT = CUSTOMIZATION / "health.lua"
HEALTH_STATUSES = ("Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown")
# Not available to scripts in Argo CD (no file, process or module access).
_SANDBOXED = ("io", "os", "debug", "package", "require", "dofile", "loadfile", "load", "loadstring", "python")


def _to_lua(runtime: Any, value: Any) -> Any:
    if isinstance(value, Mapping):
        table = runtime.table()
        for key, item in value.items():
            if item is not None:
                table[key] = _to_lua(runtime, item)
        return table
    if isinstance(value, list | tuple):
        table = runtime.table()
        for index, item in enumerate(value, start=1):
            table[index] = _to_lua(runtime, item)
        return table
    return value


def run_health(obj: Mapping[str, Any], script: str | None = None) -> dict[str, str]:
    """Argo CD's verdict for ``obj``: ``{"status": ..., "message": ...}``."""
    runtime = lua51.LuaRuntime(register_eval=False, register_builtins=False, unpack_returned_tuples=False)
    lua_globals = runtime.globals()
    for name in _SANDBOXED:
        lua_globals[name] = None
    lua_globals["obj"] = _to_lua(runtime, obj)
    source = script if script is not None else HEALTH_SCRIPT.read_text()
    result = runtime.execute(source)
    if result is None:
        raise AssertionError("the health script returned nothing")
    verdict = {key: result[key] for key in ("status", "message") if result[key] is not None}
    if verdict.get("status") not in HEALTH_STATUSES:
        raise AssertionError(f"not an Argo CD health status: {verdict!r}")
    return {key: str(value) for key, value in verdict.items()}
