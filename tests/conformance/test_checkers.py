"""Tests of the conformance checkers themselves.

The good fixtures must pass; every bad variant must make the checker exit 1 and name
the problem (file or session, field, rule).  Bad plugin directories are made by
copying fixtures/good_plugin to a temporary directory and breaking one thing; bad
responses are the sessions of fixtures/responses_bad.jsonl, one case per session_id.

Run with the interpreter of a venv made by setup_venv.sh:
    <venv>/bin/python -m unittest discover -s tests/conformance
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import check_declarations  # noqa: E402
import check_responses  # noqa: E402
from sdk_models import SdkUnavailable, load_sdk  # noqa: E402

FIXTURES = os.path.join(HERE, "fixtures")
GOOD_PLUGIN = os.path.join(FIXTURES, "good_plugin")
GOOD_RESPONSES = os.path.join(FIXTURES, "responses_good.jsonl")
BAD_RESPONSES = os.path.join(FIXTURES, "responses_bad.jsonl")


def setUpModule():
    # Fail loudly (not skip): without the SDK the checkers cannot run at all.
    try:
        load_sdk()
    except SdkUnavailable as e:
        raise RuntimeError(f"the conformance tests need the pinned SDK: {e}") from None


def run_main(module, arg):
    """Run a checker's main() in-process; return (exit code, stdout)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = module.main([module.__file__, arg])
    return code, out.getvalue()


# --------------------------------------------------------------------------------------
# Declarations

MANIFEST = "manifest.yaml"
PROVIDER = "provider/example.yaml"
CHAT = "models/llm/example-chat-v1_0.yaml"
MINI = "models/llm/example-mini.yaml"
LLM_POSITION = "models/llm/_position.yaml"
RERANK = "models/rerank/example-rerank-v1_0.yaml"


class PluginCopy:
    """A writable copy of the good plugin, with small editing helpers."""

    def __init__(self, root: str) -> None:
        self.root = root
        import yaml

        self.yaml = yaml

    def path(self, rel):
        return os.path.join(self.root, rel)

    def edit(self, rel, fn):
        """Load rel's YAML, let fn mutate it in place, write it back."""
        with open(self.path(rel), encoding="utf-8") as f:
            data = self.yaml.safe_load(f)
        fn(data)
        with open(self.path(rel), "w", encoding="utf-8") as f:
            self.yaml.safe_dump(data, f, sort_keys=False, allow_unicode=True)

    def write(self, rel, text):
        os.makedirs(os.path.dirname(self.path(rel)) or self.root, exist_ok=True)
        with open(self.path(rel), "w", encoding="utf-8") as f:
            f.write(text)

    def append(self, rel, text):
        with open(self.path(rel), "a", encoding="utf-8") as f:
            f.write(text)

    def copy(self, src, dst):
        shutil.copyfile(self.path(src), self.path(dst))

    def remove(self, rel):
        os.remove(self.path(rel))


def provider_forms(d):
    return d["provider_credential_schema"]["credential_form_schemas"]


def model_forms(d):
    return d["model_credential_schema"]["credential_form_schemas"]


def rules(d):
    return d["parameter_rules"]


# (name, mutation of a PluginCopy, substrings the output must contain)
BAD_PLUGINS = [
    # manifest.yaml
    ("author with capitals", lambda p: p.edit(MANIFEST, lambda d: d.update(author="Conformance")),
     ["manifest.yaml: author: daemon: must match"]),
    ("author is a uuid", lambda p: p.edit(MANIFEST, lambda d: d.update(author="0123abcd-0123-4567-89ab-0123456789ab")),
     ["manifest.yaml: author: daemon: must not be a UUID"]),
    ("name with a dot", lambda p: p.edit(MANIFEST, lambda d: d.update(name="example.provider")),
     ["manifest.yaml: name: daemon: must match"]),
    ("type bundle", lambda p: p.edit(MANIFEST, lambda d: d.update(type="bundle")),
     ["manifest.yaml: type: daemon: must be 'plugin'"]),
    ("version not x.y.z", lambda p: p.edit(MANIFEST, lambda d: d.update(version="1.0")),
     ["manifest.yaml: version: daemon"]),
    ("meta.version not x.y.z", lambda p: p.edit(MANIFEST, lambda d: d["meta"].update(version="v1")),
     ["manifest.yaml: meta.version: daemon"]),
    ("runner language not python", lambda p: p.edit(MANIFEST, lambda d: d["meta"]["runner"].update(language="rust")),
     ["manifest.yaml: meta.runner.language: daemon: only 'python'", "meta.runner.language: sdk PluginConfiguration"]),
    ("runner entrypoint missing", lambda p: p.edit(MANIFEST, lambda d: d["meta"]["runner"].pop("entrypoint")),
     ["manifest.yaml: meta.runner.entrypoint: daemon: required"]),
    ("unknown arch", lambda p: p.edit(MANIFEST, lambda d: d["meta"]["arch"].append("x86_64")),
     ["manifest.yaml: meta.arch[2]: daemon: must be one of"]),
    ("empty arch", lambda p: p.edit(MANIFEST, lambda d: d["meta"].update(arch=[])),
     ["manifest.yaml: meta.arch: daemon: required non-empty list"]),
    ("icon missing from _assets", lambda p: p.remove("_assets/icon.svg"),
     ["manifest.yaml: icon: daemon: icon 'icon.svg' not found in _assets/"]),
    ("dark icon missing from _assets", lambda p: p.remove("_assets/icon_dark.svg"),
     ["manifest.yaml: icon_dark: daemon: icon 'icon_dark.svg' not found"]),
    ("model plugin declares tools", lambda p: p.edit(MANIFEST, lambda d: d["plugins"].update(tools=["tools/x.yaml"])),
     ["manifest.yaml: plugins.tools: daemon: a model plugin must not declare tools"]),
    ("provider file missing", lambda p: p.edit(MANIFEST, lambda d: d["plugins"].update(models=["provider/nope.yaml"])),
     ["manifest.yaml: plugins.models[0]: daemon: provider file 'provider/nope.yaml' not found"]),
    ("no provider listed", lambda p: p.edit(MANIFEST, lambda d: d["plugins"].update(models=[])),
     ["manifest.yaml: plugins.models: daemon: a model plugin lists its provider YAML here"]),
    ("created_at missing", lambda p: p.edit(MANIFEST, lambda d: d.pop("created_at")),
     ["manifest.yaml: created_at: daemon: required RFC 3339 timestamp", "created_at: sdk PluginConfiguration"]),
    ("memory missing", lambda p: p.edit(MANIFEST, lambda d: d["resource"].pop("memory")),
     ["manifest.yaml: resource.memory: daemon: required positive integer"]),
    ("unknown tag", lambda p: p.edit(MANIFEST, lambda d: d.update(tags=["ai"])),
     ["manifest.yaml: tags[0]: daemon: unknown tag 'ai'"]),
    ("label without en_US", lambda p: p.edit(MANIFEST, lambda d: d.update(label={"zh_Hans": "x"})),
     ["manifest.yaml: label.en_US: daemon: required non-empty string"]),
    ("duplicate key in manifest", lambda p: p.append(MANIFEST, "name: again\n"),
     ["manifest.yaml: (file): invalid YAML: duplicate key 'name'"]),
    ("README.md missing", lambda p: p.remove("README.md"),
     ["README.md: (file): daemon: README.md is required"]),
    # provider YAML
    ("provider YAML syntax error", lambda p: p.append(PROVIDER, "help: [unclosed\n"),
     ["provider/example.yaml: (file): invalid YAML"]),
    ("provider label without en_US", lambda p: p.edit(PROVIDER, lambda d: d.update(label={"zh_Hans": "x"})),
     ["provider/example.yaml: label.en_US: daemon: required non-empty string", "sdk ProviderEntity"]),
    ("provider icon missing", lambda p: p.remove("_assets/icon_s_en.svg"),
     ["provider/example.yaml: icon_small.en_US: daemon: icon 'icon_s_en.svg' not found"]),
    ("provider dark icon missing", lambda p: p.edit(PROVIDER, lambda d: d.update(icon_large_dark={"en_US": "nope.svg"})),
     ["provider/example.yaml: icon_large_dark.en_US: daemon: icon 'nope.svg' not found"]),
    ("unknown supported model type", lambda p: p.edit(PROVIDER, lambda d: d["supported_model_types"].append("chat")),
     ["provider/example.yaml: supported_model_types[3]: daemon: must be one of"]),
    ("unknown configurate method", lambda p: p.edit(PROVIDER, lambda d: d.update(configurate_methods=["manual"])),
     ["provider/example.yaml: configurate_methods[0]: daemon: must be one of"]),
    ("bad form type", lambda p: p.edit(PROVIDER, lambda d: provider_forms(d)[2].update(type="textarea")),
     ["provider_credential_schema.credential_form_schemas[2].type: daemon: must be one of"]),
    ("select without options", lambda p: p.edit(PROVIDER, lambda d: provider_forms(d)[0].pop("options")),
     ["provider_credential_schema.credential_form_schemas[0].options: dify: a select field needs at least one option"]),
    ("default not an option", lambda p: p.edit(PROVIDER, lambda d: provider_forms(d)[0].update(default="oauth")),
     ["credential_form_schemas[0].default: consistency: 'oauth' is not one of the options"]),
    ("default not a string", lambda p: p.edit(PROVIDER, lambda d: model_forms(d)[1].update(default=True)),
     ["model_credential_schema.credential_form_schemas[1].default: sdk ProviderEntity"]),
    ("show_on unknown variable", lambda p: p.edit(PROVIDER, lambda d: provider_forms(d)[1]["show_on"][0].update(variable="auth")),
     ["credential_form_schemas[1].show_on[0].variable: consistency: 'auth' is not another variable of this form"]),
    ("show_on value not an option", lambda p: p.edit(PROVIDER, lambda d: provider_forms(d)[1]["show_on"][0].update(value="oauth")),
     ["credential_form_schemas[1].show_on[0].value: consistency: 'oauth' is not a value of 'auth_method'"]),
    ("show_on empty value", lambda p: p.edit(PROVIDER, lambda d: provider_forms(d)[1]["show_on"][0].update(value="")),
     ["credential_form_schemas[1].show_on[0].value: daemon: required non-empty string"]),
    ("__model_type value unknown", lambda p: p.edit(PROVIDER, lambda d: model_forms(d)[0]["show_on"][0].update(value="chat")),
     ["model_credential_schema.credential_form_schemas[0].show_on[0].value: consistency: 'chat' is not a value of '__model_type'"]),
    ("duplicate variable", lambda p: p.edit(PROVIDER, lambda d: provider_forms(d)[2].update(variable="api_key")),
     ["credential_form_schemas[2].variable: consistency: duplicate variable 'api_key'"]),
    ("too many form fields", lambda p: p.edit(PROVIDER, lambda d: provider_forms(d).extend(
        {"variable": f"extra_{i}", "type": "text-input", "label": {"en_US": f"Extra {i}"}} for i in range(30))),
     ["provider_credential_schema.credential_form_schemas: daemon: at most 32 form fields (got 33)"]),
    ("models as a list", lambda p: p.edit(PROVIDER, lambda d: d.update(models=[])),
     ["provider/example.yaml: models: sdk: must be a mapping"]),
    ("unknown models key", lambda p: p.edit(PROVIDER, lambda d: d["models"].update(image={"predefined": ["models/llm/*.yaml"]})),
     ["provider/example.yaml: models.image: daemon: unknown key"]),
    ("position key missing", lambda p: p.edit(PROVIDER, lambda d: d["models"]["llm"].pop("position")),
     ["provider/example.yaml: models.llm.position: daemon: missing",
      "consistency: the SDK takes 'models/llm/_position.yaml' as the position file but the daemon reads none"]),
    ("position file outside the glob", lambda p: (
        p.write("models/order/_position.yaml", "- example-chat-v1:0\n"),
        p.remove(LLM_POSITION),
        p.edit(PROVIDER, lambda d: d["models"]["llm"].update(position="models/order/_position.yaml"))),
     ["provider/example.yaml: models.llm.position: sdk: 'models/order/_position.yaml' is not matched by the predefined patterns"]),
    ("position file with another name", lambda p: (
        p.copy(LLM_POSITION, "models/llm/order.yaml"),
        p.edit(PROVIDER, lambda d: d["models"]["llm"].update(position="models/llm/order.yaml"))),
     ["models.llm.position: sdk: the file name must end with _position.yaml"]),
    ("position file missing", lambda p: p.remove(LLM_POSITION),
     ["provider/example.yaml: models.llm.position: daemon: position file 'models/llm/_position.yaml' not found"]),
    ("position names an unknown model", lambda p: p.append(LLM_POSITION, "- ghost\n"),
     ["models/llm/_position.yaml: [2]: consistency: 'ghost' is not a llm model"]),
    ("position names a model twice", lambda p: p.append(LLM_POSITION, "- example-mini\n"),
     ["models/llm/_position.yaml: [2]: consistency: 'example-mini' is listed twice"]),
    ("position names a model of another type", lambda p: p.append(LLM_POSITION, "- example-rerank-v1:0\n"),
     ["models/llm/_position.yaml: [2]: consistency: 'example-rerank-v1:0' is not a llm model"]),
    ("position file not a list", lambda p: p.write(LLM_POSITION, "first: example-mini\n"),
     ["models/llm/_position.yaml: (root): daemon: must be a YAML list of model names"]),
    ("pattern matching nothing", lambda p: p.edit(PROVIDER, lambda d: d["models"]["llm"]["predefined"].append("models/llm/*.yml")),
     ["models.llm.predefined[1]: daemon: pattern 'models/llm/*.yml' matches no file"]),
    ("pattern with ./ prefix", lambda p: p.edit(PROVIDER, lambda d: d["models"]["rerank"].update(predefined=["./models/rerank/*.yaml"])),
     ["models.rerank.predefined[0]: daemon: pattern './models/rerank/*.yaml' matches no file", "only SDK"]),
    ("bad pattern", lambda p: p.edit(PROVIDER, lambda d: d["models"]["llm"]["predefined"].append("models/llm/[")),
     ["models.llm.predefined[1]: daemon: bad pattern"]),
    ("file matched twice", lambda p: p.edit(PROVIDER, lambda d: d["models"]["llm"]["predefined"].append("models/llm/example-*.yaml")),
     ["daemon: 'models/llm/example-chat-v1_0.yaml' is matched by 2 patterns"]),
    ("stray .yml file", lambda p: p.copy(MINI, "models/llm/example-other.yml"),
     ["models/llm/example-other.yml: (file): consistency: not selected by any predefined pattern"]),
    ("recursive ** (the SDK's pathlib glob descends, Go's ** is one name)", lambda p: p.edit(
        PROVIDER, lambda d: d["models"]["rerank"].update(predefined=["models/rerank/**/*.yaml"])),
     ["models.rerank.predefined[0]: daemon: pattern 'models/rerank/**/*.yaml' matches no file",
      "consistency: daemon (Go filepath.Match) and SDK (pathlib glob) load different models; "
      "only daemon: [], only SDK: [('rerank', 'example-rerank-v1:0')]"]),
    ("negated class written [!x] (pathlib negates, Go matches '!')", lambda p: p.edit(
        PROVIDER, lambda d: d["models"]["rerank"].update(predefined=["models/rerank/[!x]*.yaml"])),
     ["models.rerank.predefined[0]: daemon: pattern 'models/rerank/[!x]*.yaml' matches no file",
      "only SDK: [('rerank', 'example-rerank-v1:0')]"]),
    ("model of another type under llm", lambda p: p.copy(RERANK, "models/llm/example-rerank-v1_0.yaml"),
     ["models/llm/example-rerank-v1_0.yaml: model_type: consistency: 'rerank' but the file is listed under models.llm",
      "model: consistency: model 'example-rerank-v1:0' is also declared in models/llm/example-rerank-v1_0.yaml"]),
    ("duplicate model name", lambda p: p.copy(MINI, "models/llm/example-mini-copy.yaml"),
     ["models/llm/example-mini.yaml: model: consistency: model 'example-mini' is also declared in models/llm/example-mini-copy.yaml"]),
    # model YAML
    ("model YAML duplicate key", lambda p: p.append(CHAT, "model_type: llm\n"),
     ["models/llm/example-chat-v1_0.yaml: (file): invalid YAML: duplicate key 'model_type'"]),
    ("model without label", lambda p: p.edit(CHAT, lambda d: d.pop("label")),
     ["models/llm/example-chat-v1_0.yaml: label: daemon: required"]),
    ("model_type unknown", lambda p: p.edit(CHAT, lambda d: d.update(model_type="chat")),
     ["models/llm/example-chat-v1_0.yaml: model_type: daemon: must be one of", "model_type: sdk AIModelEntity"]),
    ("unknown model property", lambda p: p.edit(CHAT, lambda d: d["model_properties"].update(max_output=1)),
     ["models/llm/example-chat-v1_0.yaml: model_properties.max_output.[key]: sdk AIModelEntity"]),
    ("llm without mode", lambda p: p.edit(CHAT, lambda d: d["model_properties"].pop("mode")),
     ["model_properties.mode: dify: an llm needs mode chat or completion"]),
    ("unknown feature", lambda p: p.edit(CHAT, lambda d: d["features"].append("thinking")),
     ["models/llm/example-chat-v1_0.yaml: features[3]: sdk AIModelEntity"]),
    ("unknown use_template", lambda p: p.edit(CHAT, lambda d: rules(d)[0].update(use_template="temp")),
     ["models/llm/example-chat-v1_0.yaml: parameter_rules[0].use_template: daemon: must be one of"]),
    ("rule without template lacks type", lambda p: p.edit(CHAT, lambda d: rules(d)[4].pop("type")),
     ["models/llm/example-chat-v1_0.yaml: parameter_rules[4].type: daemon: required when use_template is not set"]),
    ("rule without template lacks label", lambda p: p.edit(CHAT, lambda d: rules(d)[4].pop("label")),
     ["models/llm/example-chat-v1_0.yaml: parameter_rules[4].label: daemon: required when use_template is not set"]),
    ("rule type unknown", lambda p: p.edit(CHAT, lambda d: rules(d)[4].update(type="double")),
     ["models/llm/example-chat-v1_0.yaml: parameter_rules[4].type: daemon: must be one of"]),
    ("rule default not a basic type", lambda p: p.edit(CHAT, lambda d: rules(d)[5].update(default=["low"])),
     ["models/llm/example-chat-v1_0.yaml: parameter_rules[5].default: daemon: must be a basic type"]),
    ("rule min not a number", lambda p: p.edit(CHAT, lambda d: rules(d)[2].update(min="one")),
     ["models/llm/example-chat-v1_0.yaml: parameter_rules[2].min: daemon: must be a number"]),
    ("default above max", lambda p: p.edit(CHAT, lambda d: rules(d)[2].update(default=99999)),
     ["parameter_rules[2].default: consistency: 99999 is above max 8192"]),
    ("default not among options", lambda p: p.edit(CHAT, lambda d: rules(d)[5].update(default="medium")),
     ["parameter_rules[5].default: consistency: 'medium' is not among options"]),
    ("duplicate parameter name", lambda p: p.edit(CHAT, lambda d: rules(d)[1].update(name="temperature")),
     ["parameter_rules[1].name: consistency: duplicate parameter name 'temperature'"]),
    ("more than 128 rules", lambda p: p.edit(CHAT, lambda d: rules(d).extend(
        {"name": f"p{i}", "type": "int", "label": {"en_US": f"P{i}"}} for i in range(123))),
     ["models/llm/example-chat-v1_0.yaml: parameter_rules: daemon: at most 128 rules (got 129)"]),
    ("pricing decimal does not parse", lambda p: p.edit(CHAT, lambda d: d["pricing"].update(input="abc")),
     ["models/llm/example-chat-v1_0.yaml: pricing.input: daemon: must be a decimal", "pricing.input: sdk AIModelEntity"]),
    ("pricing without currency", lambda p: p.edit(CHAT, lambda d: d["pricing"].pop("currency")),
     ["models/llm/example-chat-v1_0.yaml: pricing.currency: daemon: required non-empty string"]),
]


class DeclarationsTest(unittest.TestCase):
    def test_good_plugin_passes(self):
        code, out = run_main(check_declarations, GOOD_PLUGIN)
        self.assertEqual(out.strip(), "declarations: 9 files checked, 0 problems")
        self.assertEqual(code, 0)

    def test_bad_plugins_fail_naming_the_problem(self):
        for name, mutate, expected in BAD_PLUGINS:
            with self.subTest(name), tempfile.TemporaryDirectory() as tmp:
                root = os.path.join(tmp, "plugin")
                shutil.copytree(GOOD_PLUGIN, root)
                mutate(PluginCopy(root))
                code, out = run_main(check_declarations, root)
                self.assertEqual(code, 1, out)
                for text in expected:
                    self.assertIn(text, out)
                self.assertRegex(out, r"declarations: \d+ files checked, [1-9]\d* problems\n$")

    def test_hidden_model_file_is_loaded_by_daemon_and_sdk(self):
        # Go's '*' matches hidden names, and so does the SDK's pathlib glob since 0.10
        # (the glob.glob of older SDKs skipped them): both load the file, no problem.
        with tempfile.TemporaryDirectory() as tmp:
            root = os.path.join(tmp, "plugin")
            shutil.copytree(GOOD_PLUGIN, root)
            plugin = PluginCopy(root)
            plugin.copy(MINI, "models/llm/.hidden.yaml")
            plugin.edit("models/llm/.hidden.yaml", lambda d: d.update(model="hidden-model"))
            plugin.append(LLM_POSITION, "- hidden-model\n")
            code, out = run_main(check_declarations, root)
        self.assertEqual(out.strip(), "declarations: 10 files checked, 0 problems")
        self.assertEqual(code, 0)

    def test_sdk_glob_is_the_sdks(self):
        sdk_glob = check_declarations.sdk_glob
        self.assertEqual(sdk_glob(GOOD_PLUGIN, "models/llm/*.yaml"),
                         ["models/llm/_position.yaml", "models/llm/example-chat-v1_0.yaml", "models/llm/example-mini.yaml"])
        self.assertEqual(sdk_glob(GOOD_PLUGIN, "models/**/_position.yaml"),
                         ["models/llm/_position.yaml", "models/rerank/_position.yaml",
                          "models/text_embedding/_position.yaml"])
        self.assertEqual(sdk_glob(GOOD_PLUGIN, "/models/*"), [])  # pathlib refuses absolute patterns

    def test_not_a_directory(self):
        code, out = run_main(check_declarations, os.path.join(FIXTURES, "does-not-exist"))
        self.assertEqual(code, 1)
        self.assertIn("not a directory", out)

    def test_go_glob_semantics(self):
        go_glob = check_declarations.go_glob
        self.assertEqual(go_glob(GOOD_PLUGIN, "models/llm/*.yaml"),
                         ["models/llm/_position.yaml", "models/llm/example-chat-v1_0.yaml", "models/llm/example-mini.yaml"])
        self.assertEqual(go_glob(GOOD_PLUGIN, "models/*.yaml"), [])  # '*' never crosses '/'
        self.assertEqual(go_glob(GOOD_PLUGIN, "models/*/example-[^ce]*.yaml"),
                         ["models/llm/example-mini.yaml", "models/rerank/example-rerank-v1_0.yaml"])
        self.assertEqual(go_glob(GOOD_PLUGIN, "models/llm/\\_position.yaml"), ["models/llm/_position.yaml"])
        self.assertEqual(go_glob(GOOD_PLUGIN, "models/rerank/example-rerank-v1_0.yam?"),
                         ["models/rerank/example-rerank-v1_0.yaml"])
        with self.assertRaises(check_declarations.BadPattern):
            go_glob(GOOD_PLUGIN, "models/[]")


# --------------------------------------------------------------------------------------
# Responses

# session_id of each session in responses_bad.jsonl -> what the output must say
BAD_RESPONSES_EXPECT = {
    "bad-null-content": ["(invoke_llm): lines[0].data.data.delta.message.content: daemon: must never be null"],
    "bad-missing-content": ["lines[0].data.data.delta.message.content: daemon: must never be null or missing"],
    "bad-missing-usage-key": ["lines[0].data.data.delta.usage.latency: daemon: required"],
    "bad-missing-usage-decimal": ["lines[0].data.data.delta.usage.prompt_price: daemon: required",
                                  "delta.usage.prompt_price: sdk LLMResultChunk"],
    "bad-missing-delta-index": ["lines[0].data.data.delta.index: daemon: required integer"],
    "bad-float-index": ["lines[0].data.data.delta.index: daemon: must be an integer JSON number (got 0.0)"],
    "bad-string-tokens": ["delta.usage.prompt_tokens: daemon: must be an integer JSON number (got '12')"],
    "bad-decimal": ["delta.usage.total_price: daemon: must be a decimal"],
    "bad-nan-latency": ["(input): not valid JSON: NaN"],
    "bad-role": ["delta.message.role: daemon: must be one of ['assistant', 'system', 'tool', 'user'] (got 'developer')"],
    "bad-empty-model": ["lines[0].data.data.model: daemon: required non-empty string"],
    "bad-missing-prompt-messages": ["lines[0].data.data.prompt_messages: protocol: required list"],
    "bad-tool-arguments-object": ["tool_calls[0].function.arguments: daemon: must be a string"],
    "bad-two-embedding-results": ["(invoke_text_embedding): lines: daemon: invoke_text_embedding must send exactly one `stream` before `end` (got 2)"],
    "bad-no-result": ["(invoke_text_embedding): lines: daemon: invoke_text_embedding must send exactly one `stream` before `end` (got 0)"],
    "bad-embedding-usage-missing-currency": ["lines[0].data.data.usage.currency: daemon: required"],
    "bad-error-not-followed-by-end": ["lines[0]: protocol: an `error` must be immediately followed by `end`"],
    "bad-missing-end": ["(invoke_llm): lines: daemon: missing `end`"],
    "bad-end-not-last": ["lines[0]: daemon: `end` must be the session's last message"],
    "bad-two-ends": ["lines[2]: daemon: 2 `end` messages; exactly one is allowed"],
    "bad-null-end-data": ["lines[1].data.data: daemon: required non-null object"],
    "bad-error-args": ["lines[0].data.data.args: daemon: at most 10 keys (got 11)"],
    "bad-error-no-args": ["lines[0].data.data.args: daemon: required object"],
    "bad-invoke-error-no-description": ["lines[0].data.data.args.description: dify: InvokeServerUnavailableError needs"],
    "bad-stream-and-error": ["lines[0]: daemon: invoke_rerank failed, so it must send no `stream` (got 1)"],
    "bad-rerank-doc-missing-score": ["lines[0].data.data.docs[0].score: daemon: required"],
    "bad-num-tokens-not-list": ["(get_text_embedding_num_tokens): lines[0].data.data.num_tokens: daemon: required list of integers"],
    "bad-llm-num-tokens-float": ["(get_llm_num_tokens): lines[0].data.data.num_tokens: daemon: must be an integer JSON number"],
    "bad-validate-result-string": ["lines[0].data.data.result: daemon: required boolean"],
    "bad-schema-template": ["lines[0].data.data.model_schema.parameter_rules[0].use_template: daemon: must be one of"],
    "bad-schema-missing": ["lines[0].data.data.model_schema: protocol: required"],
    "bad-heartbeat-in-session": ["lines[0].event: daemon: must be 'session' for a session's output (got 'heartbeat')"],
    "bad-session-id-mismatch": ["lines[1].session_id: daemon: 'another-session' differs from the session's 'bad-session-id-mismatch'"],
    "bad-invoke-message": ["lines[0].data.type: daemon: must be stream, end or error (got 'invoke')"],
    "bad-polling-running-without-state": ["(start_polling): lines[0].data.data: sdk LLMPollingResult: "
                                          "Value error, plugin_state is required when polling status is running"],
    "bad-polling-status": ["(check_polling): lines[0].data.data.status: daemon: must be one of "
                           "['failed', 'running', 'succeeded'] (got 'done')",
                           "lines[0].data.data.status: sdk LLMPollingResult"],
    "bad-polling-float-attempts": ["lines[0].data.data.max_attempts: daemon: must be an integer JSON number (got 3.0)"],
    "bad-request-missing-texts": ["(invoke_text_embedding): request.texts: sdk ModelInvokeTextEmbeddingRequest: Field required"],
    "bad-request-other-action": ["(invoke_llm): request.action: input: 'invoke_rerank' but the session is recorded as 'invoke_llm'"],
    "bad-request-unknown-action": ["(invoke_summary): request: protocol: 'invoke_summary' is not a model action of SDK"],
}


def _case_name(line: str) -> str:
    # by regex, not json: some bad lines are deliberately not valid JSON
    ids = re.findall(r'"session_id":\s*"(bad-[^"]+)"', line)
    assert ids, f"no bad-* session_id in fixture line: {line[:80]}"
    return ids[0]


class ResponsesTest(unittest.TestCase):
    def run_lines(self, lines):
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
            f.write("".join(line if line.endswith("\n") else line + "\n" for line in lines))
        try:
            return run_main(check_responses, f.name)
        finally:
            os.unlink(f.name)

    def test_good_responses_pass(self):
        code, out = run_main(check_responses, GOOD_RESPONSES)
        with open(GOOD_RESPONSES, encoding="utf-8") as f:
            n = sum(1 for line in f if line.strip())
        self.assertEqual(out.strip(), f"responses: {n} sessions checked, 0 problems")
        self.assertEqual(code, 0)

    def test_good_responses_cover_every_model_action(self):
        with open(GOOD_RESPONSES, encoding="utf-8") as f:
            actions = {json.loads(line)["action"] for line in f if line.strip()}
        checker = check_responses.ResponseChecker(load_sdk())
        self.assertLessEqual(set(checker.models), actions)

    def test_response_models_are_for_actions_of_the_sdk(self):
        # A response model for an action the SDK no longer defines would be dead code;
        # an SDK action without one may only fail (error + end).
        sdk = load_sdk()
        checker = check_responses.ResponseChecker(sdk)
        self.assertLessEqual(set(checker.models), {a.value for a in sdk.ModelActions})
        self.assertEqual(set(sdk.model_requests), {a.value for a in sdk.ModelActions})

    def test_each_bad_session_fails_naming_the_problem(self):
        with open(BAD_RESPONSES, encoding="utf-8") as f:
            lines = [line for line in f if line.strip()]
        names = [_case_name(line) for line in lines]
        self.assertEqual(sorted(names), sorted(BAD_RESPONSES_EXPECT), "fixture and expectations out of sync")
        for name, line in zip(names, lines):
            with self.subTest(name):
                code, out = self.run_lines([line])
                self.assertEqual(code, 1, out)
                for text in BAD_RESPONSES_EXPECT[name]:
                    self.assertIn(text, out)
                self.assertRegex(out, r"responses: 1 sessions checked, [1-9]\d* problems\n$")

    def test_whole_bad_file_reports_every_session(self):
        code, out = run_main(check_responses, BAD_RESPONSES)
        self.assertEqual(code, 1)
        for n in range(1, len(BAD_RESPONSES_EXPECT) + 1):
            self.assertRegex(out, rf"(?m)^line {n}\b")

    def test_line_of_5_mib_is_rejected(self):
        vector = [0.123456789] * 480_000  # about 5.3 MB of JSON
        session = {"action": "invoke_text_embedding", "lines": [
            {"event": "session", "session_id": "big", "data": {"type": "stream", "data": {
                "model": "e", "embeddings": [vector], "usage": {
                    "tokens": 1, "total_tokens": 1, "unit_price": "0", "price_unit": "0",
                    "total_price": "0", "currency": "USD", "latency": 0.1}}}},
            {"event": "session", "session_id": "big", "data": {"type": "end", "data": {}}},
        ]}
        code, out = self.run_lines([json.dumps(session)])
        self.assertEqual(code, 1)
        self.assertIn("lines[0]: daemon: line is", out)
        self.assertIn("5 MiB", out)

    def test_malformed_input_records(self):
        code, out = self.run_lines(["[1, 2]", '{"action": "invoke_llm", "lines": {}}', '{"lines": []}'])
        self.assertEqual(code, 1)
        self.assertIn("line 1: (input): must be an object", out)
        self.assertIn("line 2 (invoke_llm): lines: input: required list", out)
        self.assertIn("line 3: action: input: required non-empty string", out)

    def test_stream_for_unknown_action(self):
        session = {"action": "invoke_tts", "lines": [
            {"event": "session", "session_id": "t", "data": {"type": "stream", "data": {"result": "00ff"}}},
            {"event": "session", "session_id": "t", "data": {"type": "end", "data": {}}},
        ]}
        code, out = self.run_lines([json.dumps(session)])
        self.assertEqual(code, 1)
        self.assertIn("input: no response schema known for action 'invoke_tts'", out)


# --------------------------------------------------------------------------------------
# The command lines


class CommandLineTest(unittest.TestCase):
    def run_script(self, *args, python_flags=()):
        return subprocess.run([sys.executable, *python_flags, *args], capture_output=True, text=True, timeout=120)

    def test_declarations_cli(self):
        proc = self.run_script(os.path.join(HERE, "check_declarations.py"), GOOD_PLUGIN)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(proc.stdout, "declarations: 9 files checked, 0 problems\n")
        self.assertEqual(proc.stderr, "")

    def test_responses_cli_fails_on_bad_input(self):
        proc = self.run_script(os.path.join(HERE, "check_responses.py"), BAD_RESPONSES)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("problems", proc.stdout.splitlines()[-1])

    def test_usage_error_exits_2(self):
        for script in ("check_declarations.py", "check_responses.py"):
            proc = self.run_script(os.path.join(HERE, script))
            self.assertEqual(proc.returncode, 2, script)
            self.assertIn("usage:", proc.stderr)

    def test_missing_sdk_exits_2_with_hint(self):
        # -S: no site-packages, so the venv's dify_plugin is invisible
        proc = self.run_script(os.path.join(HERE, "check_responses.py"), GOOD_RESPONSES, python_flags=("-S",))
        self.assertEqual(proc.returncode, 2)
        self.assertIn("setup_venv.sh", proc.stderr)


if __name__ == "__main__":
    unittest.main()
