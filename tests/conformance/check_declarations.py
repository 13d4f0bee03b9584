#!/usr/bin/env python3
"""Conformance check of a Dify plugin's declaration files (manifest, provider, models).

Usage:  check_declarations.py ROOT

ROOT is a plugin directory as the daemon packages it: manifest.yaml, the provider YAML
named in `plugins.models`, the model YAML files its `models:` globs select, the
`_position.yaml` files, `_assets/` and README.md.

Every file is validated twice:
  * with the official SDK's Pydantic models (dify_plugin, version pinned in
    requirements.txt): PluginConfiguration, ProviderEntity (including the SDK's own
    glob loading of model files and `_position.yaml`), AIModelEntity after the SDK's
    `use_template` expansion;
  * with the plugin daemon's stricter Go-side rules (daemon_rules.py), and how the
    daemon itself finds model and position files (Go filepath.Match on package paths,
    the `position:` key), which differs from the SDK (Python pathlib glob,
    `_position.yaml` among the glob hits).  The provider must satisfy both.

Prints one line per problem, `<file>: <field>: <source>: <message>`, where source is
`sdk <Model>`, `daemon`, `dify` (what Dify needs to use a model) or `consistency`
(cross-field/cross-file sanity), then a summary line
`declarations: N files checked, M problems`.
Exit status: 0 no problems, 1 problems found, 2 usage or environment error.
"""

from __future__ import annotations

import copy
import datetime
import os
import pathlib
import re
import sys
import urllib.parse

import daemon_rules as dr
from daemon_rules import Problems, at, show
from sdk_models import SdkUnavailable, format_validation_error, load_sdk

# --------------------------------------------------------------------------------------
# YAML loading


def _make_loader(yaml):
    """A SafeLoader that rejects duplicate mapping keys: PyYAML silently keeps the last
    value, but the daemon's gopkg.in/yaml.v3 fails with "mapping key already defined"."""

    class UniqueKeyLoader(yaml.SafeLoader):
        pass

    def construct_mapping(loader, node, deep=False):
        loader.flatten_mapping(node)
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # unhashable key; construct_mapping reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (the daemon's YAML parser rejects it)",
                    key_node.start_mark,
                )
        return loader.construct_mapping(node, deep=deep)

    UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return UniqueKeyLoader


# --------------------------------------------------------------------------------------
# Go filepath.Match, as the daemon applies it to package paths (decoder/helper.go)


class BadPattern(ValueError):
    pass


def _go_segment_regex(seg: str) -> re.Pattern:
    """Translate one '/'-free segment of a Go filepath.Match pattern into a regex.
    Go syntax: '*' (no '/'), '?', '[^a-z]' classes (negation with '^', not '!'),
    '\\' escapes.  Malformed classes are ErrBadPattern in Go."""
    out, i, n = [], 0, len(seg)

    def esc_char(j):
        if j >= n or seg[j] in "-]":
            raise BadPattern(f"bad character class in {seg!r}")
        if seg[j] == "\\":
            j += 1
            if j >= n:
                raise BadPattern(f"trailing backslash in {seg!r}")
        return seg[j], j + 1

    while i < n:
        c = seg[i]
        if c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "\\":
            if i + 1 >= n:
                raise BadPattern(f"trailing backslash in {seg!r}")
            out.append(re.escape(seg[i + 1]))
            i += 2
        elif c == "[":
            i += 1
            negated = i < n and seg[i] == "^"
            if negated:
                i += 1
            ranges = []
            while True:
                if i < n and seg[i] == "]" and ranges:
                    i += 1
                    break
                lo, i = esc_char(i)
                hi = lo
                if i < n and seg[i] == "-":
                    hi, i = esc_char(i + 1)
                if i >= n:
                    raise BadPattern(f"unterminated character class in {seg!r}")
                ranges.append(f"{re.escape(lo)}-{re.escape(hi)}")
            out.append("[" + ("^" if negated else "") + "".join(ranges) + "]")
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def go_glob(root: str, pattern: str) -> list[str]:
    """Files under root whose '/'-separated relative path matches pattern with Go's
    filepath.Match.  '*' never crosses '/', so the match can descend directory by
    directory instead of walking the whole tree (which may hold a build directory).
    Hidden files are matched by '*' (as by the SDK's pathlib glob since 0.10, unlike
    the glob.glob of older SDKs); '**' is just '*' (unlike pathlib)."""
    segments = [_go_segment_regex(s) for s in pattern.split("/")]
    current = [""]
    for depth, regex in enumerate(segments):
        last = depth == len(segments) - 1
        found = []
        for rel_dir in current:
            try:
                names = sorted(os.listdir(os.path.join(root, rel_dir)))
            except OSError:
                continue
            for name in names:
                if not regex.fullmatch(name):
                    continue
                rel = f"{rel_dir}/{name}" if rel_dir else name
                full = os.path.join(root, rel)
                if (os.path.isfile(full) if last else os.path.isdir(full)):
                    found.append(rel)
        current = found
    return current


def sdk_glob(root: str, pattern: str) -> list[str]:
    """The '/'-separated paths under root that the SDK's ProviderEntity loader finds
    for a `predefined` pattern.  Since 0.10 it runs `Path.cwd().glob(pattern)` in the
    plugin directory (pathlib: '*' also matches hidden names, '**' spans any number of
    directories, '[!a]' negates where Go writes '[^a]'); this is the same call.  A
    pattern pathlib refuses (absolute, empty) finds nothing here (the SDK raises)."""
    base = pathlib.Path(root)
    try:
        return sorted(p.relative_to(base).as_posix() for p in base.glob(pattern))
    except (ValueError, NotImplementedError, OSError):
        return []


# --------------------------------------------------------------------------------------
# The checker


class DeclarationChecker:
    def __init__(self, root: str, sdk, yaml) -> None:
        self.root = root
        self.sdk = sdk
        self.yaml = yaml
        self.loader = _make_loader(yaml)
        self.problems = Problems()
        self.files_checked = 0

    # ---- helpers

    def add(self, where, field, message):
        self.problems.add(where, field, message)

    def sdk_validate(self, where, field, model_cls, data):
        """Validate data with an SDK model; record errors; return the instance or None."""
        try:
            return model_cls.model_validate(data)
        except self.sdk.ValidationError as e:
            self.problems.add_sdk_error(where, field, model_cls.__name__, format_validation_error(e))
        except Exception as e:  # SDK validators may raise plain exceptions
            self.add(where, field, f"sdk {model_cls.__name__}: {e}")
        return None

    def load_yaml(self, rel):
        """Parse one YAML file; return (ok, data)."""
        path = os.path.join(self.root, rel)
        if not os.path.isfile(path):
            self.add(rel, "(file)", "missing file")
            return False, None
        self.files_checked += 1
        try:
            with open(path, encoding="utf-8") as f:
                return True, self.yaml.load(f, Loader=self.loader)
        except (self.yaml.YAMLError, UnicodeDecodeError) as e:
            self.add(rel, "(file)", f"invalid YAML: {' '.join(str(e).split())}")
            return False, None

    def check_asset(self, where, field, name):
        if not isinstance(name, str) or not name:
            return
        if name.startswith("/") or ".." in name.split("/") or not os.path.isfile(
            os.path.join(self.root, "_assets", name)
        ):
            self.add(where, field, f"daemon: icon {name!r} not found in _assets/")

    # ---- entry point

    def run(self) -> Problems:
        if not os.path.isdir(self.root):
            self.add(self.root, "(dir)", "not a directory")
            return self.problems
        if not os.path.isfile(os.path.join(self.root, "README.md")):
            # decoder/helper.go::AvailableI18nReadme: "en_US readme not found"
            self.add("README.md", "(file)", "daemon: README.md is required at the plugin root")
        manifest = self.check_manifest()
        if manifest is not None:
            models = (manifest.get("plugins") or {}).get("models") if isinstance(manifest.get("plugins"), dict) else None
            if isinstance(models, list) and models and isinstance(models[-1], str):
                # the daemon keeps the last entry (each one overwrites dec.Model)
                self.check_provider(models[-1])
        return self.problems

    # ---- manifest.yaml

    def check_manifest(self):
        rel = "manifest.yaml"
        ok, data = self.load_yaml(rel)
        if not ok:
            return None
        if not isinstance(data, dict):
            self.add(rel, "(root)", "must be a mapping")
            return None
        self.sdk_validate(rel, "", self.sdk.PluginConfiguration, copy.deepcopy(data))

        # plugin_declaration.go: PluginDeclarationWithoutAdvancedFields + ManifestValidate
        version = data.get("version")
        if not isinstance(version, str) or not dr.VERSION_RE.match(version):
            self.add(rel, "version", f"daemon: must be a string matching {dr.VERSION_RE.pattern} (got {show(version)})")
        if data.get("type") != "plugin":
            self.add(rel, "type", f"daemon: must be 'plugin' (got {show(data.get('type'))})")

        author = data.get("author")
        if not isinstance(author, str) or not dr.AUTHOR_RE.match(author):
            self.add(rel, "author", f"daemon: must match {dr.AUTHOR_RE.pattern} (got {show(author)})")
        elif _looks_like_uuid(author):
            # identity.go::RemoteLike: a UUID author marks a remote-debugging plugin
            self.add(rel, "author", "daemon: must not be a UUID (reserved for remote-debugging plugins)")
        name = data.get("name")
        if not isinstance(name, str) or not dr.PLUGIN_NAME_RE.match(name):
            self.add(rel, "name", f"daemon: must match {dr.PLUGIN_NAME_RE.pattern} (got {show(name)})")

        dr.check_i18n(self.problems, rel, "label", data.get("label"))
        dr.check_i18n(self.problems, rel, "description", data.get("description"))

        icon = data.get("icon")
        if not isinstance(icon, str) or not icon:
            self.add(rel, "icon", "daemon: required file name in _assets/")
        elif len(icon) > 128:
            self.add(rel, "icon", "daemon: at most 128 characters")
        else:
            self.check_asset(rel, "icon", icon)
        icon_dark = data.get("icon_dark")
        if icon_dark is not None:
            if not isinstance(icon_dark, str) or len(icon_dark) > 128:
                self.add(rel, "icon_dark", "daemon: must be a file name of at most 128 characters")
            else:
                self.check_asset(rel, "icon_dark", icon_dark)

        created = data.get("created_at")
        if not _is_timestamp(created):
            self.add(rel, "created_at", f"daemon: required RFC 3339 timestamp (got {show(created)})")

        self._check_resource(rel, data.get("resource"))
        self._check_plugins(rel, data.get("plugins"))
        self._check_meta(rel, data.get("meta"))

        tags = data.get("tags")
        if tags is not None:
            if not isinstance(tags, list):
                self.add(rel, "tags", "daemon: must be a list")
            else:
                for i, tag in enumerate(tags):
                    if tag not in dr.PLUGIN_TAGS:
                        self.add(rel, at("tags", i), f"daemon: unknown tag {show(tag)}; one of {sorted(dr.PLUGIN_TAGS)}")
        repo = data.get("repo")
        if repo is not None:
            parsed = urllib.parse.urlparse(repo) if isinstance(repo, str) else None
            if parsed is None or not parsed.scheme or not parsed.netloc:
                self.add(rel, "repo", f"daemon: must be a URL (got {show(repo)})")
        privacy = data.get("privacy")
        if privacy is not None and not isinstance(privacy, str):
            self.add(rel, "privacy", "daemon: must be a string")
        return data

    def _check_resource(self, rel, resource):
        if not isinstance(resource, dict):
            self.add(rel, "resource", "daemon: required mapping with memory")
            return
        memory = resource.get("memory")
        if not dr.is_go_int(memory) or memory <= 0:
            self.add(rel, "resource.memory", f"daemon: required positive integer (bytes) (got {show(memory)})")
        permission = resource.get("permission")
        if permission is not None:
            if not isinstance(permission, dict):
                self.add(rel, "resource.permission", "daemon: must be a mapping")
            else:
                storage = permission.get("storage")
                if isinstance(storage, dict) and "size" in storage:
                    size = storage["size"]
                    if not dr.is_go_int(size) or not 1024 <= size <= 1073741824:
                        self.add(rel, "resource.permission.storage.size", "daemon: must be 1024..1073741824")

    def _check_plugins(self, rel, plugins):
        if not isinstance(plugins, dict):
            self.add(rel, "plugins", "daemon: required mapping with models")
            return
        models = plugins.get("models")
        if not isinstance(models, list) or not models:
            self.add(rel, "plugins.models", "daemon: a model plugin lists its provider YAML here")
        else:
            if len(models) > 1:
                self.add(rel, "plugins.models", "daemon: only one provider is kept (each entry overwrites the previous)")
            for i, path in enumerate(models):
                if not isinstance(path, str) or not path or len(path) > 128:
                    self.add(rel, at("plugins.models", i), "daemon: must be a path of at most 128 characters")
                elif not os.path.isfile(os.path.join(self.root, path)):
                    self.add(rel, at("plugins.models", i), f"daemon: provider file {path!r} not found")
        # ManifestValidate: model and tool/endpoint/agent_strategy/datasource/trigger
        # cannot be declared together.
        for kind in ("tools", "endpoints", "agent_strategies", "datasources", "triggers"):
            if plugins.get(kind):
                self.add(rel, at("plugins", kind), "daemon: a model plugin must not declare " + kind)

    def _check_meta(self, rel, meta):
        if not isinstance(meta, dict):
            self.add(rel, "meta", "daemon: required mapping with version, arch, runner")
            return
        version = meta.get("version")
        if not isinstance(version, str) or not dr.VERSION_RE.match(version):
            self.add(rel, "meta.version", f"daemon: must be a string matching {dr.VERSION_RE.pattern} (got {show(version)})")
        arch = meta.get("arch")
        if not isinstance(arch, list) or not arch:
            self.add(rel, "meta.arch", f"daemon: required non-empty list, each of {sorted(dr.ARCHES)}")
        else:
            for i, a in enumerate(arch):
                if a not in dr.ARCHES:
                    self.add(rel, at("meta.arch", i), f"daemon: must be one of {sorted(dr.ARCHES)} (got {show(a)})")
        runner = meta.get("runner")
        if not isinstance(runner, dict):
            self.add(rel, "meta.runner", "daemon: required mapping with language, version, entrypoint")
            return
        if runner.get("language") not in dr.LANGUAGES:
            self.add(rel, "meta.runner.language",
                     f"daemon: only 'python' is accepted (got {show(runner.get('language'))})")
        for key, limit in (("version", 128), ("entrypoint", 256)):
            val = runner.get(key)
            if not isinstance(val, str) or not val or len(val) > limit:
                self.add(rel, at("meta.runner", key),
                         f"daemon: required string of at most {limit} characters (got {show(val)})")

    # ---- provider YAML

    def check_provider(self, rel):
        ok, data = self.load_yaml(rel)
        if not ok:
            return
        if not isinstance(data, dict):
            self.add(rel, "(root)", "must be a mapping")
            return

        # SDK: the provider's own fields (the model files are validated one by one
        # below, so that errors name their file; the SDK loader runs at the end).
        provider_ok = self.sdk_validate(rel, "", self.sdk.ProviderEntity, dict(copy.deepcopy(data), models={})) is not None
        if data.get("extra") is not None:
            self.sdk_validate(rel, "extra", self.sdk.ModelProviderConfigurationExtra, copy.deepcopy(data["extra"]))

        # model_declaration.go: ModelProviderDeclaration
        provider = data.get("provider")
        if not isinstance(provider, str) or not provider or len(provider) >= 256:
            self.add(rel, "provider", f"daemon: required string shorter than 256 (got {show(provider)})")
        dr.check_i18n(self.problems, rel, "label", data.get("label"))
        if data.get("description") is not None:
            dr.check_i18n(self.problems, rel, "description", data.get("description"))
        for key in ("icon_small", "icon_large", "icon_small_dark", "icon_large_dark"):
            icon = data.get(key)
            if icon is None:
                continue
            dr.check_i18n(self.problems, rel, key, icon)
            if isinstance(icon, dict):
                for lang, name in icon.items():
                    self.check_asset(rel, at(key, lang), name)
        if data.get("background") is not None and not isinstance(data.get("background"), str):
            self.add(rel, "background", "daemon: must be a string")
        help_ = data.get("help")
        if help_ is not None:
            if not isinstance(help_, dict):
                self.add(rel, "help", "daemon: must be a mapping with title and url")
            else:
                dr.check_i18n(self.problems, rel, "help.title", help_.get("title"))
                dr.check_i18n(self.problems, rel, "help.url", help_.get("url"))

        supported = data.get("supported_model_types")
        if not isinstance(supported, list) or not supported or len(supported) > 16:
            self.add(rel, "supported_model_types", "daemon: required list of 1..16 model types")
            supported = []
        for i, t in enumerate(supported):
            if t not in dr.MODEL_TYPES:
                self.add(rel, at("supported_model_types", i),
                         f"daemon: must be one of {sorted(dr.MODEL_TYPES)} (got {show(t)})")
        methods = data.get("configurate_methods")
        if not isinstance(methods, list) or not methods or len(methods) > 16:
            self.add(rel, "configurate_methods", "daemon: required list of 1..16 methods")
            methods = []
        for i, m in enumerate(methods):
            if m not in dr.CONFIGURATE_METHODS:
                self.add(rel, at("configurate_methods", i),
                         f"daemon: must be one of {sorted(dr.CONFIGURATE_METHODS)} (got {show(m)})")

        pcs = data.get("provider_credential_schema")
        if pcs is not None:
            if not isinstance(pcs, dict):
                self.add(rel, "provider_credential_schema", "daemon: must be a mapping")
            else:
                self.check_forms(rel, "provider_credential_schema.credential_form_schemas",
                                 pcs.get("credential_form_schemas"))
        mcs = data.get("model_credential_schema")
        if mcs is not None:
            if not isinstance(mcs, dict):
                self.add(rel, "model_credential_schema", "daemon: must be a mapping")
            else:
                model_field = mcs.get("model")
                if not isinstance(model_field, dict):
                    self.add(rel, "model_credential_schema.model", "daemon: required mapping with label")
                else:
                    dr.check_i18n(self.problems, rel, "model_credential_schema.model.label", model_field.get("label"))
                    if model_field.get("placeholder") is not None:
                        dr.check_i18n(self.problems, rel, "model_credential_schema.model.placeholder",
                                      model_field.get("placeholder"))
                # Dify's model form provides `__model_type` (the type being added).
                self.check_forms(rel, "model_credential_schema.credential_form_schemas",
                                 mcs.get("credential_form_schemas"),
                                 builtins={"__model_type": [t for t in supported if isinstance(t, str)]})

        self.check_models(rel, data, [t for t in supported if isinstance(t, str)], methods, provider_ok)

    def check_forms(self, rel, field, forms, builtins=None):
        """Credential form schemas (ModelProviderCredentialFormSchema) and the
        references between them.  `builtins` maps variables Dify itself provides to
        the values they take (the model form has `__model_type`)."""
        builtins = builtins or {}
        if forms is None:
            return
        if not isinstance(forms, list):
            self.add(rel, field, "daemon: must be a list")
            return
        if len(forms) > 32:
            self.add(rel, field, f"daemon: at most 32 form fields (got {len(forms)})")
        by_var: dict[str, dict] = {}
        for i, form in enumerate(forms):
            ff = at(field, i)
            if not isinstance(form, dict):
                self.add(rel, ff, "daemon: must be a mapping")
                continue
            var = form.get("variable")
            if not isinstance(var, str) or not var or len(var) >= 256:
                self.add(rel, at(ff, "variable"), f"daemon: required string shorter than 256 (got {show(var)})")
            elif var in by_var:
                self.add(rel, at(ff, "variable"), f"consistency: duplicate variable {var!r}")
            else:
                by_var[var] = form
            dr.check_i18n(self.problems, rel, at(ff, "label"), form.get("label"))
            ftype = form.get("type")
            if ftype not in dr.FORM_TYPES:
                self.add(rel, at(ff, "type"), f"daemon: must be one of {sorted(dr.FORM_TYPES)} (got {show(ftype)})")
            if form.get("required") is not None and not isinstance(form.get("required"), bool):
                self.add(rel, at(ff, "required"), "daemon: must be a boolean")
            default = form.get("default")
            if isinstance(default, str) and len(default) >= 256:
                self.add(rel, at(ff, "default"), "daemon: must be shorter than 256 characters")
            for key in ("help", "placeholder"):
                if form.get(key) is not None:
                    dr.check_i18n(self.problems, rel, at(ff, key), form.get(key))
            if form.get("url") is not None and not isinstance(form.get("url"), str):
                self.add(rel, at(ff, "url"), "daemon: must be a string")
            if form.get("max_length") is not None and not dr.is_go_int(form.get("max_length")):
                self.add(rel, at(ff, "max_length"), "daemon: must be an integer")
            self._check_show_on(rel, at(ff, "show_on"), form.get("show_on"))

            options = form.get("options")
            values = []
            if options is not None:
                if not isinstance(options, list):
                    self.add(rel, at(ff, "options"), "daemon: must be a list")
                    options = []
                elif len(options) > 128:
                    self.add(rel, at(ff, "options"), "daemon: at most 128 options")
                for j, opt in enumerate(options):
                    of = at(at(ff, "options"), j)
                    if not isinstance(opt, dict):
                        self.add(rel, of, "daemon: must be a mapping with label and value")
                        continue
                    dr.check_i18n(self.problems, rel, at(of, "label"), opt.get("label"))
                    value = opt.get("value")
                    if not isinstance(value, str) or not value or len(value) >= 256:
                        self.add(rel, at(of, "value"), f"daemon: required non-empty string (got {show(value)})")
                    else:
                        if value in values:
                            self.add(rel, at(of, "value"), f"consistency: duplicate option {value!r}")
                        values.append(value)
                    self._check_show_on(rel, at(of, "show_on"), opt.get("show_on"))
            if ftype in ("select", "radio") and not options:
                self.add(rel, at(ff, "options"), f"dify: a {ftype} field needs at least one option")
            if isinstance(default, str) and default and values and default not in values:
                self.add(rel, at(ff, "default"), f"consistency: {default!r} is not one of the options {values}")

        # show_on must refer to another field of the same form, with a value it can take
        for i, form in enumerate(forms):
            if not isinstance(form, dict):
                continue
            refs = [(at(at(field, i), "show_on"), form.get("show_on"))]
            for j, opt in enumerate(form.get("options") or []):
                if isinstance(opt, dict):
                    refs.append((at(at(at(field, i), "options"), j) + ".show_on", opt.get("show_on")))
            for sfield, show_on in refs:
                if not isinstance(show_on, list):
                    continue
                for k, cond in enumerate(show_on):
                    if not isinstance(cond, dict):
                        continue
                    var, value = cond.get("variable"), cond.get("value")
                    if var in builtins:
                        if value not in builtins[var]:
                            self.add(rel, at(at(sfield, k), "value"),
                                     f"consistency: {show(value)} is not a value of {var!r} ({builtins[var]})")
                        continue
                    target = by_var.get(var)
                    if target is None or target is form:
                        self.add(rel, at(at(sfield, k), "variable"),
                                 f"consistency: {show(var)} is not another variable of this form")
                        continue
                    allowed = [o.get("value") for o in target.get("options") or [] if isinstance(o, dict)]
                    if target.get("type") == "switch":
                        allowed = ["true", "false"]
                    if allowed and value not in allowed:
                        self.add(rel, at(at(sfield, k), "value"),
                                 f"consistency: {show(value)} is not a value of {var!r} ({allowed})")

    def _check_show_on(self, rel, field, show_on):
        if show_on is None:
            return
        if not isinstance(show_on, list):
            self.add(rel, field, "daemon: must be a list of {variable, value}")
            return
        if len(show_on) > 16:
            self.add(rel, field, "daemon: at most 16 conditions")
        for k, cond in enumerate(show_on):
            cf = at(field, k)
            if not isinstance(cond, dict):
                self.add(rel, cf, "daemon: must be a mapping with variable and value")
                continue
            for key in ("variable", "value"):
                val = cond.get(key)
                if not isinstance(val, str) or not val or len(val) >= 256:
                    self.add(rel, at(cf, key), f"daemon: required non-empty string (got {show(val)})")

    # ---- models: globs, model files, positions

    def check_models(self, rel, provider, supported, methods, provider_ok):
        models = provider.get("models")
        if models is None:
            if "predefined-model" in methods:
                self.add(rel, "models", "dify: predefined-model needs a models map of predefined globs")
            return
        if not isinstance(models, dict):
            # the daemon also accepts an inline list, the SDK does not
            self.add(rel, "models", "sdk: must be a mapping of model type -> {predefined, position}")
            return
        model_files, positions = self._select_files(rel, models, supported)
        names, incomplete, files_ok = self._check_model_files(model_files)
        order, positions_ok = self._check_position_files(positions, names, incomplete)
        # Finally the SDK's own loader (ProviderEntity globs relative to the working
        # directory) must load the same models and order as the daemon.  Skipped when
        # a file already failed, as the loader would only repeat that error.
        if provider_ok and files_ok and positions_ok:
            self._compare_with_sdk_loader(rel, provider, names, order)

    def _select_files(self, rel, models, supported):
        """Apply the `models:` map as the daemon does.  Returns ({model file: the
        model type it is listed under}, {model type: position file})."""
        file_patterns: dict[str, list[str]] = {}  # model file -> patterns matching it
        model_files: dict[str, str] = {}
        positions: dict[str, str] = {}
        plain_dirs: list[tuple[str, str]] = []  # (directory, pattern) of patterns like dir/*.yaml
        for key, entry in models.items():
            field = at("models", key)
            mtype = dr.MODELS_MAP_TYPES.get(key)
            if mtype is None:
                self.add(rel, field, f"daemon: unknown key; neither daemon nor SDK reads it (use {sorted(dr.MODELS_MAP_TYPES)})")
                continue
            if mtype not in supported:
                self.add(rel, field, f"consistency: {mtype!r} is not in supported_model_types")
            if not isinstance(entry, dict):
                self.add(rel, field, "daemon: must be a mapping with predefined and position")
                continue
            for extra_key in sorted(set(entry) - {"predefined", "position"}, key=str):
                self.add(rel, at(field, extra_key), "daemon: unknown key, ignored by daemon and SDK")
            patterns = entry.get("predefined")
            if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) for p in patterns):
                self.add(rel, at(field, "predefined"), "daemon: required non-empty list of path patterns")
                patterns = [p for p in patterns if isinstance(p, str)] if isinstance(patterns, list) else []

            # The SDK takes a *_position.yaml its own glob finds as the order; the
            # daemon skips such files and reads only `position:`.
            position_hits = {hit for pattern in patterns for hit in sdk_glob(self.root, pattern)
                             if hit.endswith("_position.yaml")}
            for i, pattern in enumerate(patterns):
                pf = at(at(field, "predefined"), i)
                try:
                    hits = go_glob(self.root, pattern)
                except BadPattern as e:
                    self.add(rel, pf, f"daemon: bad pattern: {e}")
                    continue
                if not hits:
                    self.add(rel, pf, f"daemon: pattern {pattern!r} matches no file")
                    continue
                for hit in hits:
                    if not hit.endswith("_position.yaml"):
                        file_patterns.setdefault(hit, []).append(pattern)
                        model_files.setdefault(hit, mtype)
                head = pattern.rpartition("/")[0]
                if head and not any(ch in head for ch in "*?[\\"):
                    plain_dirs.append((head, pattern))

            position = self._check_position_key(rel, field, entry.get("position"), position_hits)
            if position is not None:
                positions[mtype] = position

        # The daemon walks every file and appends it once per matching pattern.
        for path, pats in sorted(file_patterns.items()):
            if len(pats) > 1:
                self.add(rel, "models", f"daemon: {path!r} is matched by {len(pats)} patterns {pats} and loaded {len(pats)} times")

        # YAML files next to the models that no pattern selects are silently ignored.
        reported = set(model_files)
        for head, pattern in plain_dirs:
            directory = os.path.join(self.root, head)
            for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
                path = f"{head}/{name}"
                if (name.endswith((".yaml", ".yml")) and not name.endswith("_position.yaml")
                        and path not in reported and os.path.isfile(os.path.join(self.root, path))):
                    self.add(path, "(file)", f"consistency: not selected by any predefined pattern (near {pattern!r}); never loaded")
                    reported.add(path)
        return model_files, positions

    def _check_position_key(self, rel, field, position, position_hits):
        """The daemon reads only `position:`; the SDK takes a `_position.yaml` that the
        predefined globs match.  Both must name the same file.  Returns the usable
        position file or None."""
        pos_field = at(field, "position")
        usable = None
        if position is None:
            self.add(rel, pos_field, "daemon: missing; without it the daemon ignores the model order "
                     "(set it to the _position.yaml file the predefined glob also matches)")
        elif not isinstance(position, str) or not position:
            self.add(rel, pos_field, "daemon: must be a file path")
        elif not position.endswith("_position.yaml"):
            self.add(rel, pos_field, "sdk: the file name must end with _position.yaml "
                     "(the SDK only recognises that name; the daemon would parse any other as a model)")
        elif not os.path.isfile(os.path.join(self.root, position)):
            self.add(rel, pos_field, f"daemon: position file {position!r} not found")
        else:
            usable = position
            if position not in position_hits:
                self.add(rel, pos_field, f"sdk: {position!r} is not matched by the predefined patterns, "
                         "so the SDK does not read it")
        for hit in sorted(position_hits):
            if hit != position:
                self.add(rel, at(field, "predefined"),
                         f"consistency: the SDK takes {hit!r} as the position file but the daemon reads "
                         + (repr(position) if isinstance(position, str) else "none"))
        return usable

    def _check_model_files(self, model_files):
        """Validate each model file.  Returns ({model type: {name: file}}, the model
        types with a file that could not be read, whether every file passed the SDK)."""
        names: dict[str, dict[str, str]] = {}
        incomplete: set[str] = set()
        all_ok = True
        for path, mtype in model_files.items():
            ok, model = self.load_yaml(path)
            if ok:
                dr.check_model_declaration(self.problems, path, "", model)
            if not ok or not isinstance(model, dict):
                all_ok = False
                incomplete.add(mtype)
                continue
            entity = self.sdk_validate(path, "", self.sdk.AIModelEntity, copy.deepcopy(model))
            if entity is None:
                all_ok = False
            else:
                for i, rule in enumerate(entity.parameter_rules):
                    dr.check_parameter_rule_consistency(self.problems, path, at("parameter_rules", i), rule)
            declared, name = model.get("model_type"), model.get("model")
            if declared != mtype:
                self.add(path, "model_type", f"consistency: {show(declared)} but the file is listed under models.{_map_key(mtype)}")
            if declared not in dr.MODEL_TYPES or not isinstance(name, str):
                incomplete.add(mtype)
                continue
            seen = names.setdefault(declared, {})
            if name in seen:
                self.add(path, "model", f"consistency: model {name!r} is also declared in {seen[name]}")
            else:
                seen[name] = path
        return names, incomplete, all_ok

    def _check_position_files(self, positions, names, incomplete):
        """Each position file: a list of distinct names of models of its type.
        Returns ({models-map key: order}, whether every file could be read)."""
        order_by_key: dict[str, list[str]] = {}
        all_ok = True
        for mtype, path in positions.items():
            ok, order = self.load_yaml(path)
            if not ok:
                all_ok = False
                continue
            if not isinstance(order, list) or not all(isinstance(n, str) for n in order):
                self.add(path, "(root)", "daemon: must be a YAML list of model names")
                all_ok = False
                continue
            order_by_key[_map_key(mtype)] = order
            known = names.get(mtype, {})
            seen: set[str] = set()
            for i, model_name in enumerate(order):
                # skip unknown-name reports when a model file of the type was unreadable
                if model_name not in known and mtype not in incomplete:
                    self.add(path, f"[{i}]", f"consistency: {model_name!r} is not a {mtype} model of this provider")
                if model_name in seen:
                    self.add(path, f"[{i}]", f"consistency: {model_name!r} is listed twice")
                seen.add(model_name)
        return order_by_key, all_ok

    def _compare_with_sdk_loader(self, rel, provider, names, daemon_positions):
        cwd = os.getcwd()
        try:
            os.chdir(self.root)
            entity = self.sdk.ProviderEntity.model_validate(copy.deepcopy(provider))
        except Exception as e:
            pairs = format_validation_error(e) if isinstance(e, self.sdk.ValidationError) else [("", str(e))]
            self.problems.add_sdk_error(rel, "", "ProviderEntity (loading the model files)", pairs)
            return
        finally:
            os.chdir(cwd)
        sdk_models = {(m.model_type.value, m.model) for m in entity.models}
        daemon_models = {(t, n) for t, by_name in names.items() for n in by_name}
        only_daemon = sorted(daemon_models - sdk_models)
        only_sdk = sorted(sdk_models - daemon_models)
        if only_daemon or only_sdk:
            self.add(rel, "models", f"consistency: daemon (Go filepath.Match) and SDK (pathlib glob) load different "
                     f"models; only daemon: {only_daemon}, only SDK: {only_sdk}")
        sdk_positions = entity.position.model_dump() if entity.position is not None else {}
        for key in sorted(set(daemon_positions) | {k for k, v in sdk_positions.items() if v}):
            if (sdk_positions.get(key) or []) != daemon_positions.get(key, []):
                self.add(rel, at("models", key), "consistency: daemon and SDK see a different model order")


def _map_key(model_type: str) -> str:
    return {v: k for k, v in dr.MODELS_MAP_TYPES.items()}.get(model_type, model_type)


_UUID_RE = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$")


def _looks_like_uuid(value: str) -> bool:
    """What google/uuid.Parse accepts for strings allowed by the author regex."""
    return bool(_UUID_RE.match(value))


def _is_timestamp(value) -> bool:
    if isinstance(value, datetime.datetime):
        return True
    if isinstance(value, str):
        try:
            datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return True
        except ValueError:
            return False
    return False


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print(f"usage: {os.path.basename(argv[0])} PLUGIN_ROOT", file=sys.stderr)
        return 2
    try:
        sdk = load_sdk()
        import yaml  # PyYAML, a dependency of dify_plugin
    except (SdkUnavailable, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    checker = DeclarationChecker(os.path.abspath(argv[1]), sdk, yaml)
    problems = checker.run()
    for line in problems.lines:
        print(line)
    print(f"declarations: {checker.files_checked} files checked, {len(problems)} problems")
    return 1 if problems.lines else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
