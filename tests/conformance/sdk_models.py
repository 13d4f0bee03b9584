"""Access to the official Dify plugin SDK's data models (PyPI `dify_plugin`, pinned).

The conformance checkers validate declarations and protocol output with the SDK's
own Pydantic models.  This module finds them, checks that the installed SDK is the
version pinned in requirements.txt, and returns them in one namespace.

Why the models are not imported with a plain `import dify_plugin`:
the package's `__init__` runs `gevent.monkey.patch_all()` and imports the whole
plugin server (Flask, werkzeug, the TCP/stdio servers ...).  We only need the pure
data models in `dify_plugin.entities` and `dify_plugin.core.entities`, which do not
depend on that initialisation.  Registering a bare package object for
`dify_plugin` (with the real package directory as its search path) lets Python
import those submodules directly: the classes are exactly the SDK's, but the
checker stays fast and free of process-wide side effects (the monkey patching also
makes the interpreter print "greenlet is being finalized" noise at exit).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import re
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
REQUIREMENTS = os.path.join(HERE, "requirements.txt")


class SdkUnavailable(RuntimeError):
    """The pinned SDK is not importable in this interpreter."""


def pinned_version() -> str:
    """The `dify_plugin==X` version pinned in requirements.txt (single source of truth)."""
    with open(REQUIREMENTS, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^\s*dify[_-]plugin\s*==\s*([^\s#;]+)", line, re.IGNORECASE)
            if m:
                return m.group(1)
    raise SdkUnavailable(f"{REQUIREMENTS} does not pin dify_plugin==<version>")


def _setup_hint() -> str:
    return (
        f"create a venv with `{os.path.join(HERE, 'setup_venv.sh')} <venv-dir>` "
        "and run the checkers with `<venv-dir>/bin/python`"
    )


def load_sdk() -> types.SimpleNamespace:
    """Import the SDK's models; raise SdkUnavailable with a helpful message otherwise."""
    want = pinned_version()
    try:
        have = importlib.metadata.version("dify_plugin")
    except importlib.metadata.PackageNotFoundError:
        raise SdkUnavailable(
            f"dify_plugin is not installed for {sys.executable}; {_setup_hint()}"
        ) from None
    if have != want:
        raise SdkUnavailable(
            f"dify_plugin {have} is installed but the checkers are pinned to {want}; {_setup_hint()}"
        )

    if "dify_plugin" not in sys.modules:
        spec = importlib.util.find_spec("dify_plugin")
        if spec is None or not spec.submodule_search_locations:
            raise SdkUnavailable(f"cannot locate the dify_plugin package; {_setup_hint()}")
        package = types.ModuleType("dify_plugin")
        package.__path__ = list(spec.submodule_search_locations)
        package.__file__ = spec.origin
        package.__package__ = "dify_plugin"
        sys.modules["dify_plugin"] = package

    def mod(name: str):
        return importlib.import_module(name)

    try:
        setup = mod("dify_plugin.core.entities.plugin.setup")
        message = mod("dify_plugin.core.entities.message")
        writer = mod("dify_plugin.core.server.__base.writer_entities")
        model = mod("dify_plugin.entities.model")
        provider = mod("dify_plugin.entities.model.provider")
        llm = mod("dify_plugin.entities.model.llm")
        embedding = mod("dify_plugin.entities.model.text_embedding")
        rerank = mod("dify_plugin.entities.model.rerank")
        pydantic = mod("pydantic")
    except Exception as e:  # an SDK whose layout differs from 0.7.4
        raise SdkUnavailable(f"cannot import the dify_plugin {have} data models: {e!r}") from e

    return types.SimpleNamespace(
        version=have,
        ValidationError=pydantic.ValidationError,
        BaseModel=pydantic.BaseModel,
        # manifest.yaml
        PluginConfiguration=setup.PluginConfiguration,
        # provider and model declarations
        ProviderEntity=provider.ProviderEntity,
        ModelProviderConfigurationExtra=provider.ModelProviderConfigurationExtra,
        AIModelEntity=model.AIModelEntity,
        ModelType=model.ModelType,
        # protocol envelope
        StreamOutputMessage=writer.StreamOutputMessage,
        SessionMessage=message.SessionMessage,
        # action responses
        LLMResultChunk=llm.LLMResultChunk,
        LLMResultChunkWithStructuredOutput=llm.LLMResultChunkWithStructuredOutput,
        TextEmbeddingResult=embedding.TextEmbeddingResult,
        MultiModalEmbeddingResult=embedding.MultiModalEmbeddingResult,
        RerankResult=rerank.RerankResult,
        MultiModalRerankResult=rerank.MultiModalRerankResult,
    )


def format_validation_error(exc) -> list[tuple[str, str]]:
    """Turn a pydantic ValidationError into (field path, message) pairs."""
    out = []
    for err in exc.errors():
        path = ""
        for part in err.get("loc", ()):
            if isinstance(part, int):
                path += f"[{part}]"
            else:
                path = f"{path}.{part}" if path else str(part)
        msg = err.get("msg", "invalid")
        if "input" in err and err.get("type") not in ("missing",):
            shown = repr(err["input"])
            if len(shown) > 80:
                shown = shown[:77] + "..."
            msg = f"{msg} (got {shown})"
        out.append((path, msg))
    return out


if __name__ == "__main__":
    # `python sdk_models.py` is the venv self-check used by setup_venv.sh.
    try:
        sdk = load_sdk()
    except SdkUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print(f"dify_plugin {sdk.version} data models importable")
