"""The Dify plugin daemon's validation rules, restated in Python.

The plugin daemon (github.com/langgenius/dify-plugin-daemon, Go) is stricter than the
Python SDK's Pydantic models: it decodes into typed Go structs (a JSON `1.0` is not an
`int`, `null` is not a string) and runs go-playground `validate:` tags and custom
validators.  This module restates those rules — read from the daemon's source, not
copied — so the checkers can enforce them next to the SDK models.  Each rule names the
Go file it comes from (paths relative to the daemon repository, commit bdb5642a).

It also holds the small helpers both checkers share: the problem collector and the
JSON/YAML value predicates.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

# --------------------------------------------------------------------------------------
# Problem collection


class Problems:
    """Collects one human-readable line per problem: `<where>: <field>: <message>`."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, where: str, field: str, message: str) -> None:
        self.lines.append(f"{where}: {field or '(root)'}: {message}")

    def add_sdk_error(self, where: str, field: str, model: str, pairs) -> None:
        """Record the (path, message) pairs of a Pydantic error raised by SDK `model`."""
        for path, msg in pairs:
            self.add(where, join(field, path) if path else field, f"sdk {model}: {msg}")

    def __len__(self) -> int:
        return len(self.lines)


def at(field: str, key) -> str:
    """Extend a field path: at('a', 'b') == 'a.b', at('a', 2) == 'a[2]'."""
    if isinstance(key, int):
        return f"{field}[{key}]"
    return f"{field}.{key}" if field else str(key)


def join(field: str, sub: str) -> str:
    if not field:
        return sub
    return f"{field}{sub}" if sub.startswith("[") else f"{field}.{sub}"


def show(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------------------
# Value predicates matching Go decoding


def is_go_int(v) -> bool:
    """A value Go's encoding/json (or yaml.v3) decodes into an `int`: an integral
    number literal (no fraction, no exponent — Python parses those as float), not a
    bool, within int64."""
    return isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63


def is_number(v) -> bool:
    """A value Go decodes into float64: any finite JSON number, not a bool."""
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    return isinstance(v, float) and math.isfinite(v)


# shopspring/decimal NewFromString (used by Decimal.UnmarshalJSON/UnmarshalText):
# optional sign, digits with at most one '.', optional base-10 exponent.  No '_',
# no 'NaN'/'Infinity' (Python's Decimal accepts those, Go does not).
_DECIMAL_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def is_decimal(v) -> bool:
    """A value the daemon's `decimal.Decimal` fields accept: a number, or a string
    holding one.  (The daemon also tolerates `null` as zero, but the SDK does not.)"""
    if is_number(v):
        return True
    if isinstance(v, str) and _DECIMAL_RE.match(v):
        try:
            Decimal(v)
        except InvalidOperation:
            return False
        return True
    return False


def go_len(s: str) -> int:
    """go-playground's len/lt/max on strings counts runes (code points)."""
    return len(s)


# --------------------------------------------------------------------------------------
# Constants from the daemon's source

# pkg/entities/plugin_entities/plugin_declaration.go (AuthorRegex, PluginNameRegex)
AUTHOR_RE = re.compile(r"^[a-z0-9_-]{1,64}$")
PLUGIN_NAME_RE = re.compile(r"^[a-z0-9_-]{1,128}$")
# pkg/entities/manifest_entities/version.go (validator "version", used by
# manifest `version` and `meta.version`)
VERSION_RE = re.compile(r"^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$")
# pkg/entities/constants/arch.go, language.go
ARCHES = {"amd64", "arm64"}
LANGUAGES = {"python"}
# pkg/entities/manifest_entities/tags.go
PLUGIN_TAGS = {
    "search", "image", "videos", "weather", "finance", "design", "travel", "social",
    "news", "medical", "productivity", "education", "business", "entertainment",
    "utilities", "agent", "rag", "other", "trigger",
}
# pkg/entities/plugin_entities/model_declaration.go (isModelType)
MODEL_TYPES = {
    "llm", "text-embedding", "rerank", "speech2text", "moderation", "tts", "text2img",
    "multimodal-embedding", "multimodal-rerank",
}
# model_declaration.go (isModelProviderConfigurateMethod, isModelProviderFormType,
# isModelParameterType, PARAMETER_RULE_TEMPLATE keys)
CONFIGURATE_METHODS = {"predefined-model", "customizable-model"}
FORM_TYPES = {"text-input", "secret-input", "select", "radio", "switch"}
PARAMETER_TYPES = {"float", "int", "string", "boolean", "text"}
PARAMETER_TEMPLATES = {
    "temperature", "top_p", "top_k", "presence_penalty", "frequency_penalty",
    "max_tokens", "response_format", "json_schema",
}
# Keys of the provider YAML `models:` map the daemon reads
# (ModelProviderDeclaration.UnmarshalYAML) and the model_type each one holds.
MODELS_MAP_TYPES = {
    "llm": "llm",
    "text_embedding": "text-embedding",
    "rerank": "rerank",
    "tts": "tts",
    "speech2text": "speech2text",
    "moderation": "moderation",
}
# pkg/entities/model_entities/llm.go (isPromptMessageRole, isPromptMessageContentType)
PROMPT_ROLES = {"system", "user", "assistant", "tool"}
CONTENT_TYPES = {"text", "image", "audio", "video", "document"}
# String fields of model_entities.PromptMessageContent (a non-string breaks json decoding)
CONTENT_STRING_FIELDS = (
    "type", "base64_data", "url", "data", "encode_format", "format", "mime_type",
    "detail", "filename",
)

# model_entities.LLMUsage / EmbeddingUsage: every key, and the Go type it decodes into.
LLM_USAGE_KEYS = {
    "prompt_tokens": "int",
    "prompt_unit_price": "decimal",
    "prompt_price_unit": "decimal",
    "prompt_price": "decimal",
    "completion_tokens": "int",
    "completion_unit_price": "decimal",
    "completion_price_unit": "decimal",
    "completion_price": "decimal",
    "total_tokens": "int",
    "total_price": "decimal",
    "currency": "string",
    "latency": "float",
}
EMBEDDING_USAGE_KEYS = {
    "tokens": "int",
    "total_tokens": "int",
    "unit_price": "decimal",
    "price_unit": "decimal",
    "total_price": "decimal",
    "currency": "string",
    "latency": "float",
}

# pkg/entities/model_entities/polling.go (ModelPollingResult, the answer to
# start_polling and check_polling): `status` validate:"required,oneof=...", and the
# Go type of each optional field (`result` is raw JSON, any value).
POLLING_STATUSES = {"running", "succeeded", "failed"}
POLLING_INT_FIELDS = ("next_check_after_seconds", "expires_after_seconds", "max_attempts")

# internal/types/app/config.go: PLUGIN_RUNTIME_MAX_BUFFER_SIZE default 5242880.  The
# daemon's bufio.Scanner must hold the whole line plus its '\n', so a line must be
# strictly shorter than this many bytes.
MAX_LINE_BYTES = 5 * 1024 * 1024

# pkg/entities/plugin_entities/event.go: ErrorResponse.Args `validate:"max=10"`.
# A failing ErrorResponse is *ignored* by io_tunnel/generic.go (`break`), so an error
# with more args silently becomes a successful empty response when `end` arrives.
MAX_ERROR_ARGS = 10


def check_typed(problems: Problems, where: str, field: str, value, kind: str) -> None:
    """Check a value against a Go field type: int, float, decimal or string."""
    ok = {
        "int": is_go_int,
        "float": is_number,
        "decimal": is_decimal,
        "string": lambda v: isinstance(v, str),
    }[kind](value)
    if not ok:
        expect = {
            "int": "an integer JSON number",
            "float": "a finite number",
            "decimal": "a decimal as a string or number (e.g. \"0.0001\")",
            "string": "a string",
        }[kind]
        problems.add(where, field, f"daemon: must be {expect} (got {show(value)})")


def check_i18n(problems: Problems, where: str, field: str, value, *, required: bool = True) -> None:
    """plugin_entities.I18nObject: a mapping with a non-empty en_US (< 1024 chars) and
    optional zh_Hans/ja_JP/pt_BR strings (< 1024 chars).  basic_type.go"""
    if value is None:
        if required:
            problems.add(where, field, "daemon: required (an I18n object with en_US)")
        return
    if not isinstance(value, dict):
        problems.add(where, field, f"daemon: must be an I18n mapping like {{en_US: ...}} (got {show(value)})")
        return
    en = value.get("en_US")
    if not isinstance(en, str) or not en:
        problems.add(where, at(field, "en_US"), "daemon: required non-empty string")
    for lang in ("en_US", "zh_Hans", "ja_JP", "pt_BR"):
        text = value.get(lang)
        if text is None:
            continue
        if not isinstance(text, str):
            problems.add(where, at(field, lang), f"daemon: must be a string (got {show(text)})")
        elif go_len(text) >= 1024:
            problems.add(where, at(field, lang), "daemon: must be shorter than 1024 characters")


def check_model_declaration(problems: Problems, where: str, field: str, data) -> dict:
    """Daemon rules for one model declaration (plugin_entities.ModelDeclaration),
    applied after the daemon's own template expansion (ModelParameterRule.TransformTemplate).

    Used both for model YAML files and for the `model_schema` answered by
    get_ai_model_schemas.  Returns the data (for chaining)."""
    if not isinstance(data, dict):
        problems.add(where, field, f"daemon: a model declaration must be a mapping (got {show(data)})")
        return data

    model = data.get("model")
    if not isinstance(model, str) or not model:
        problems.add(where, at(field, "model"), "daemon: required non-empty string")
    elif go_len(model) >= 256:
        problems.add(where, at(field, "model"), "daemon: must be shorter than 256 characters")

    check_i18n(problems, where, at(field, "label"), data.get("label"))

    model_type = data.get("model_type")
    if model_type not in MODEL_TYPES:
        problems.add(
            where, at(field, "model_type"),
            f"daemon: must be one of {sorted(MODEL_TYPES)} (got {show(model_type)})",
        )

    features = data.get("features")
    if features is not None:
        if not isinstance(features, list):
            problems.add(where, at(field, "features"), "daemon: must be a list of strings")
        else:
            if len(features) > 256:
                problems.add(where, at(field, "features"), "daemon: at most 256 features")
            for i, feat in enumerate(features):
                if not isinstance(feat, str) or go_len(feat) >= 256:
                    problems.add(where, at(at(field, "features"), i), "daemon: must be a string shorter than 256")

    fetch_from = data.get("fetch_from")
    if fetch_from is not None and fetch_from not in CONFIGURATE_METHODS:
        problems.add(
            where, at(field, "fetch_from"),
            f"daemon: must be one of {sorted(CONFIGURATE_METHODS)} (got {show(fetch_from)})",
        )

    props = data.get("model_properties")
    if props is not None and not isinstance(props, dict):
        problems.add(where, at(field, "model_properties"), "daemon: must be a mapping")
        props = None

    deprecated = data.get("deprecated")
    if deprecated is not None and not isinstance(deprecated, bool):
        problems.add(where, at(field, "deprecated"), f"daemon: must be a boolean (got {show(deprecated)})")

    rules = data.get("parameter_rules")
    if rules is not None:
        if not isinstance(rules, list):
            problems.add(where, at(field, "parameter_rules"), "daemon: must be a list")
        else:
            if len(rules) > 128:
                problems.add(where, at(field, "parameter_rules"), f"daemon: at most 128 rules (got {len(rules)})")
            seen: set[str] = set()
            for i, rule in enumerate(rules):
                rfield = at(at(field, "parameter_rules"), i)
                _check_parameter_rule(problems, where, rfield, rule)
                name = rule.get("name") if isinstance(rule, dict) else None
                if isinstance(name, str):
                    if name in seen:
                        problems.add(where, at(rfield, "name"), f"consistency: duplicate parameter name {name!r}")
                    seen.add(name)

    pricing = data.get("pricing")
    if pricing is not None:
        pfield = at(field, "pricing")
        if not isinstance(pricing, dict):
            problems.add(where, pfield, "daemon: must be a mapping with input, output, unit, currency")
        else:
            # ModelPriceConfig: input/unit required decimals, output optional, currency required
            for key, required in (("input", True), ("output", False), ("unit", True)):
                val = pricing.get(key)
                if val is None:
                    if required:
                        problems.add(where, at(pfield, key), "daemon: required decimal")
                    continue
                if not is_decimal(val):
                    problems.add(where, at(pfield, key), f"daemon: must be a decimal (got {show(val)})")
            cur = pricing.get("currency")
            if not isinstance(cur, str) or not cur:
                problems.add(where, at(pfield, "currency"), "daemon: required non-empty string")

    # Dify itself needs these properties to use a model (mode for app types, context
    # size for prompt budgeting); neither the daemon nor the SDK checks them.
    if model_type == "llm" and props is not None:
        mode = props.get("mode")
        if mode not in ("chat", "completion"):
            problems.add(where, at(at(field, "model_properties"), "mode"),
                         f"dify: an llm needs mode chat or completion (got {show(mode)})")
    if model_type in ("llm", "text-embedding") and props is not None:
        ctx = props.get("context_size")
        if not is_go_int(ctx) or ctx <= 0:
            problems.add(where, at(at(field, "model_properties"), "context_size"),
                         f"dify: an {model_type} needs a positive integer context_size (got {show(ctx)})")
    return data


def _check_parameter_rule(problems: Problems, where: str, field: str, rule) -> None:
    """plugin_entities.ModelParameterRule plus the `parameter_rule` and `is_basic_type`
    validators (model_declaration.go, basic_type.go)."""
    if not isinstance(rule, dict):
        problems.add(where, field, f"daemon: a parameter rule must be a mapping (got {show(rule)})")
        return
    name = rule.get("name")
    if not isinstance(name, str) or not name:
        problems.add(where, at(field, "name"), "daemon: required non-empty string")
    elif go_len(name) >= 256:
        problems.add(where, at(field, "name"), "daemon: must be shorter than 256 characters")

    template = rule.get("use_template")
    has_template = "use_template" in rule and template is not None
    if has_template:
        if not isinstance(template, str) or template not in PARAMETER_TEMPLATES:
            # TransformTemplate fails with "use_template %s not found"; an empty string
            # is silently treated as "no template" but skips the label/type check.
            problems.add(
                where, at(field, "use_template"),
                f"daemon: must be one of {sorted(PARAMETER_TEMPLATES)} (got {show(template)})",
            )
    else:
        # validator "parameter_rule": without use_template, label and type are required
        if rule.get("label") is None:
            problems.add(where, at(field, "label"), "daemon: required when use_template is not set")
        if rule.get("type") is None:
            problems.add(where, at(field, "type"), "daemon: required when use_template is not set")

    if rule.get("label") is not None:
        check_i18n(problems, where, at(field, "label"), rule.get("label"))
    if rule.get("help") is not None:
        check_i18n(problems, where, at(field, "help"), rule.get("help"))

    ptype = rule.get("type")
    if ptype is not None and ptype not in PARAMETER_TYPES:
        problems.add(where, at(field, "type"),
                     f"daemon: must be one of {sorted(PARAMETER_TYPES)} (got {show(ptype)})")

    required = rule.get("required")
    if required is not None and not isinstance(required, bool):
        problems.add(where, at(field, "required"), f"daemon: must be a boolean (got {show(required)})")

    default = rule.get("default")
    if default is not None and not (isinstance(default, (str, bool)) or is_number(default)):
        problems.add(where, at(field, "default"),
                     f"daemon: must be a basic type (string, number or boolean) (got {show(default)})")

    for key in ("min", "max"):
        val = rule.get(key)
        if val is not None and not is_number(val):
            problems.add(where, at(field, key), f"daemon: must be a number (got {show(val)})")
    precision = rule.get("precision")
    if precision is not None and not is_go_int(precision):
        problems.add(where, at(field, "precision"), f"daemon: must be an integer (got {show(precision)})")

    options = rule.get("options")
    if options is not None:
        if not isinstance(options, list):
            problems.add(where, at(field, "options"), "daemon: must be a list of strings")
        else:
            for i, opt in enumerate(options):
                if not isinstance(opt, str) or go_len(opt) >= 256:
                    problems.add(where, at(at(field, "options"), i), "daemon: must be a string shorter than 256")


def check_parameter_rule_consistency(problems: Problems, where: str, field: str, rule) -> None:
    """Checks on one parameter rule *after* template expansion (SDK's ParameterRule):
    the default must satisfy the rule's own type/range/options, since the SDK fills it
    in for a missing required parameter and then validates it with the same rule
    (large_language_model.py::_validate_and_filter_model_parameters)."""
    ptype = getattr(rule.type, "value", rule.type)
    default = rule.default
    if rule.min is not None and rule.max is not None and rule.min > rule.max:
        problems.add(where, field, f"consistency: min {rule.min} > max {rule.max}")
    if default is None:
        return
    ok = {
        "int": is_go_int(default),
        "float": is_number(default),
        "boolean": isinstance(default, bool),
        "string": isinstance(default, str),
        "text": isinstance(default, str),
    }.get(ptype, True)
    if not ok:
        problems.add(where, at(field, "default"), f"consistency: {show(default)} is not a valid {ptype}")
        return
    if ptype in ("int", "float"):
        if rule.min is not None and default < rule.min:
            problems.add(where, at(field, "default"), f"consistency: {default} is below min {rule.min}")
        if rule.max is not None and default > rule.max:
            problems.add(where, at(field, "default"), f"consistency: {default} is above max {rule.max}")
    if rule.options and isinstance(default, str) and default not in rule.options:
        problems.add(where, at(field, "default"), f"consistency: {default!r} is not among options {rule.options}")
