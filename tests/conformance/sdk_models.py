"""Access to the official Dify plugin SDK's data models (PyPI `dify_plugin`, pinned).

The conformance checkers validate declarations and protocol output with the SDK's
own Pydantic models.  This module finds them, checks that the installed SDK is the
version pinned in requirements.txt, and returns them in one namespace.

Why the models are not imported with a plain `import dify_plugin`:
the package's `__init__` runs `gevent.monkey.patch_all()` and imports the whole
plugin server (Flask, werkzeug, the TCP/stdio servers ...).  We only need the pure
data models in `dify_plugin.entities` and `dify_plugin.core.entities`, which do not
depend on that initialisation (since 0.10 some of their imports load gevent and
httpx, but nothing patches).  Registering a bare package object for
`dify_plugin` (with the real package directory as its search path) lets Python
import those submodules directly: the classes are exactly the SDK's, but the
checker stays fast and free of process-wide side effects (the monkey patching also
makes the interpreter print "greenlet is being finalized" noise at exit).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import sys
import types
import warnings

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
        # The SDK's own deprecation warnings (e.g. pydantic's class-based `config` in
        # provider_config.py) are not ours to fix; they would only be noise in reports.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            setup = mod("dify_plugin.core.entities.plugin.setup")
            request = mod("dify_plugin.core.entities.plugin.request")
            message = mod("dify_plugin.core.entities.message")
            writer = mod("dify_plugin.core.server.__base.writer_entities")
            # 0.10 moved the model declarations out of entities/model/__init__.py into
            # entities/model/schema.py (the package still re-exports them); import
            # them where they are defined.
            schema = mod("dify_plugin.entities.model.schema")
            provider = mod("dify_plugin.entities.model.provider")
            llm = mod("dify_plugin.entities.model.llm")
            embedding = mod("dify_plugin.entities.model.text_embedding")
            rerank = mod("dify_plugin.entities.model.rerank")
            pydantic = mod("pydantic")
    except Exception as e:  # an SDK whose layout differs from the pinned one
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
        AIModelEntity=schema.AIModelEntity,
        ModelType=schema.ModelType,
        ModelFeature=schema.ModelFeature,
        # the actions the daemon may send a model plugin, and the SDK's model of each
        # request's `data`
        ModelActions=request.ModelActions,
        model_requests=_model_requests(request, pydantic.BaseModel),
        # protocol envelope
        StreamOutputMessage=writer.StreamOutputMessage,
        SessionMessage=message.SessionMessage,
        # action responses
        LLMResultChunk=llm.LLMResultChunk,
        LLMResultChunkWithStructuredOutput=llm.LLMResultChunkWithStructuredOutput,
        LLMPollingResult=llm.LLMPollingResult,
        TextEmbeddingResult=embedding.TextEmbeddingResult,
        MultiModalEmbeddingResult=embedding.MultiModalEmbeddingResult,
        RerankResult=rerank.RerankResult,
        MultiModalRerankResult=rerank.MultiModalRerankResult,
    )


def _model_requests(request, base_model) -> dict:
    """action -> the SDK's request model for it.  The SDK's router builds each request
    with the class whose `action` field defaults to that action (plugin.py registers
    one route per ModelActions member), so finding the classes by that default keeps
    up with actions a newer SDK adds."""
    found = {}
    for obj in vars(request).values():
        if isinstance(obj, type) and issubclass(obj, base_model):
            field = obj.model_fields.get("action")
            if field is not None and isinstance(field.default, request.ModelActions):
                found[field.default.value] = obj
    missing = sorted(a.value for a in request.ModelActions if a.value not in found)
    if missing:
        raise SdkUnavailable(f"no request model found in the SDK for the model actions {missing}")
    return found


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


def main(argv: list[str]) -> int:
    """`python sdk_models.py` is the venv self-check used by setup_venv.sh;
    `--model-actions` and `--model-features` print the SDK's ModelActions and
    ModelFeature values as a JSON list, for tests that must cover each of them."""
    if len(argv) > 2 or (len(argv) == 2 and argv[1] not in ("--model-actions", "--model-features")):
        print(f"usage: {os.path.basename(argv[0])} [--model-actions | --model-features]", file=sys.stderr)
        return 2
    try:
        sdk = load_sdk()
    except SdkUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if len(argv) == 2:
        enum = sdk.ModelActions if argv[1] == "--model-actions" else sdk.ModelFeature
        print(json.dumps([member.value for member in enum]))
    else:
        print(f"dify_plugin {sdk.version} data models importable (Python {platform.python_version()})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
