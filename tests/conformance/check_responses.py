#!/usr/bin/env python3
"""Conformance check of what a plugin wrote back to the daemon, session by session.

Usage:  check_responses.py FILE.jsonl

Each input line is one recorded session:
    {"action": "<action>", "lines": [<every JSON object the plugin wrote for that
                                      session, in order>],
     "request": {<optional: the request's `data` as the daemon sent it>}}
where each object is a plugin->daemon event
    {"event": "session", "session_id": "...", "data": {"type": "stream"|"end"|"error", "data": {...}}}

Checked for every session:
  * the request, when given: the SDK's request model for the action (the class its
    router builds from `data`), and `action` matching it;
  * envelope: the SDK's StreamOutputMessage / SessionMessage models, plus the daemon's
    rules: event "session", one non-empty session_id shared by all lines, `data.type`
    one of stream|end|error, `data.data` a non-null object, each line < 5 MiB as JSON;
  * sequence: exactly one `end` and it is last; an `error` is immediately followed by
    `end`; error data has error_type, message and args (an object, at most 10 keys);
    non-LLM actions send exactly one `stream` (none when they fail), invoke_llm any;
  * every `stream` payload: the SDK's response model for the action, plus the daemon's
    stricter Go decoding (content never null, every usage key present, integers are
    integers, decimals parse, ...).  Actions without an SDK model use a small model
    restating what the SDK's plugin_executor.py returns.

Prints one line per problem, `line <n> (<action>) <field>: <source>: <message>`,
then `responses: N sessions checked, M problems`.
Exit status: 0 no problems, 1 problems found, 2 usage or environment error.
"""

from __future__ import annotations

import json
import os
import sys

import daemon_rules as dr
from daemon_rules import Problems, at, show
from sdk_models import SdkUnavailable, format_validation_error, load_sdk

# Actions answered by exactly one `stream` message (daemon buffer size 1, Dify reads
# the first item — io_tunnel/model.gen.go).  invoke_llm streams any number.
STREAMING_ACTIONS = {"invoke_llm", "invoke_tts"}


def _reject_constant(name):
    # Python's json accepts NaN/Infinity; Go's encoding/json does not.
    raise ValueError(f"{name} is not valid JSON")


def parse_json(text):
    return json.loads(text, parse_constant=_reject_constant)


class ResponseChecker:
    def __init__(self, sdk) -> None:
        self.sdk = sdk
        self.problems = Problems()
        self.sessions = 0
        self.models = self._action_models(sdk)

    @staticmethod
    def _action_models(sdk):
        """action -> callable(payload) returning the SDK model class to validate with."""
        BaseModel = sdk.BaseModel
        from pydantic import ConfigDict, StrictBool, StrictInt

        # The SDK has no response classes for these; plugin_executor.py returns plain
        # dicts: {"num_tokens": int}, {"num_tokens": [int]}, {"result": True,
        # "credentials": {...}}, {"model_schema": AIModelEntity | None}.
        class LLMNumTokensResponse(BaseModel):
            model_config = ConfigDict(extra="forbid")
            num_tokens: StrictInt

        class TextEmbeddingNumTokensResponse(BaseModel):
            model_config = ConfigDict(extra="forbid")
            num_tokens: list[StrictInt]

        class ValidateCredentialsResponse(BaseModel):
            model_config = ConfigDict(extra="forbid")
            result: StrictBool
            credentials: dict

        class AIModelSchemaResponse(BaseModel):
            model_config = ConfigDict(extra="forbid", protected_namespaces=())
            model_schema: sdk.AIModelEntity | None

        def llm(payload):
            if isinstance(payload, dict) and "structured_output" in payload:
                return sdk.LLMResultChunkWithStructuredOutput
            return sdk.LLMResultChunk

        return {
            "invoke_llm": llm,
            "get_llm_num_tokens": lambda _: LLMNumTokensResponse,
            "invoke_text_embedding": lambda _: sdk.TextEmbeddingResult,
            "invoke_multimodal_embedding": lambda _: sdk.MultiModalEmbeddingResult,
            "get_text_embedding_num_tokens": lambda _: TextEmbeddingNumTokensResponse,
            "invoke_rerank": lambda _: sdk.RerankResult,
            "invoke_multimodal_rerank": lambda _: sdk.MultiModalRerankResult,
            "validate_provider_credentials": lambda _: ValidateCredentialsResponse,
            "validate_model_credentials": lambda _: ValidateCredentialsResponse,
            "get_ai_model_schemas": lambda _: AIModelSchemaResponse,
            # SDK 0.10's polling: both answer one LLMPollingResult (plugin_executor.py
            # start_llm_polling / check_llm_polling).
            "start_polling": lambda _: sdk.LLMPollingResult,
            "check_polling": lambda _: sdk.LLMPollingResult,
        }

    # ---- input

    def check_file(self, path: str) -> None:
        with open(path, encoding="utf-8") as f:
            for lineno, text in enumerate(f, 1):
                if not text.strip():
                    continue
                self.sessions += 1
                where = f"line {lineno}"
                try:
                    record = parse_json(text)
                except ValueError as e:
                    self.problems.add(where, "(input)", f"not valid JSON: {e}")
                    continue
                if not isinstance(record, dict):
                    self.problems.add(where, "(input)", 'must be an object {"action": ..., "lines": [...]}')
                    continue
                action = record.get("action")
                lines = record.get("lines")
                if not isinstance(action, str) or not action:
                    self.problems.add(where, "action", "input: required non-empty string")
                    action = "?"
                if not isinstance(lines, list):
                    self.problems.add(f"{where} ({action})", "lines", "input: required list of the plugin's output objects")
                    continue
                if "request" in record:
                    self.check_request(f"{where} ({action})", action, record["request"])
                self.check_session(f"{where} ({action})", action, lines)

    # ---- the request the session answers

    def check_request(self, where: str, action: str, request) -> None:
        """The daemon's request `data` must be what the SDK's router accepts for the
        action, so that an answer is checked against a request the SDK could get."""
        if not isinstance(request, dict):
            self.problems.add(where, "request", f"input: must be the request's data object (got {show(request)})")
            return
        sent = request.get("action")
        if sent != action:
            self.problems.add(where, "request.action", f"input: {show(sent)} but the session is recorded as {action!r}")
        model_cls = self.sdk.model_requests.get(action)
        if model_cls is None:
            self.problems.add(where, "request", f"protocol: {action!r} is not a model action of SDK {self.sdk.version}")
            return
        self._sdk(where, "request", model_cls, request)

    # ---- one session

    def check_session(self, where: str, action: str, lines: list) -> None:
        p = self.problems
        types: list[str | None] = []
        session_id = None
        for i, obj in enumerate(lines):
            field = f"lines[{i}]"
            types.append(None)
            try:
                size = len(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
            except ValueError as e:
                p.add(where, field, f"daemon: not serialisable as JSON: {e}")
                continue
            if size >= dr.MAX_LINE_BYTES:
                p.add(where, field, f"daemon: line is {size} bytes; the daemon's stdout scanner "
                      f"kills the plugin at {dr.MAX_LINE_BYTES} (5 MiB) including the newline")
            if not isinstance(obj, dict):
                p.add(where, field, f"daemon: must be a JSON object (got {show(obj)})")
                continue
            self._sdk(where, field, self.sdk.StreamOutputMessage, obj)
            if obj.get("event") != "session":
                # heartbeat/log/error events are not part of a session's answer
                p.add(where, at(field, "event"), f"daemon: must be 'session' for a session's output (got {show(obj.get('event'))})")
                continue
            sid = obj.get("session_id")
            if not isinstance(sid, str) or not sid:
                p.add(where, at(field, "session_id"), f"daemon: required non-empty string (got {show(sid)})")
            elif session_id is None:
                session_id = sid
            elif sid != session_id:
                p.add(where, at(field, "session_id"), f"daemon: {sid!r} differs from the session's {session_id!r}")

            msg = obj.get("data")
            mfield = at(field, "data")
            if not isinstance(msg, dict):
                p.add(where, mfield, f"daemon: required session message object {{type, data}} (got {show(msg)})")
                continue
            self._sdk(where, mfield, self.sdk.SessionMessage, msg)
            mtype = msg.get("type")
            if mtype not in ("stream", "end", "error"):
                hint = " (backwards invocation is not expected from a model provider)" if mtype == "invoke" else ""
                p.add(where, at(mfield, "type"), f"daemon: must be stream, end or error (got {show(mtype)}){hint}")
                continue
            types[i] = mtype
            payload = msg.get("data")
            pfield = at(mfield, "data")
            if not isinstance(payload, dict):
                p.add(where, pfield, f"daemon: required non-null object (got {show(payload)})")
                continue
            if mtype == "error":
                self.check_error(where, pfield, payload)
            elif mtype == "stream":
                self.check_stream(where, pfield, action, payload)

        # Sequence rules.
        ends = [i for i, t in enumerate(types) if t == "end"]
        if not ends:
            p.add(where, "lines", "daemon: missing `end`; the caller waits until it times out")
        else:
            if len(ends) > 1:
                p.add(where, f"lines[{ends[1]}]", f"daemon: {len(ends)} `end` messages; exactly one is allowed")
            if ends[-1] != len(lines) - 1:
                p.add(where, f"lines[{ends[-1]}]", "daemon: `end` must be the session's last message")
        errors = [i for i, t in enumerate(types) if t == "error"]
        for i in errors:
            if i + 1 >= len(lines) or types[i + 1] != "end":
                p.add(where, f"lines[{i}]", "protocol: an `error` must be immediately followed by `end`")
        streams = [i for i, t in enumerate(types) if t == "stream"]
        if action not in STREAMING_ACTIONS:
            if errors and streams:
                p.add(where, f"lines[{streams[0]}]", f"daemon: {action} failed, so it must send no `stream` "
                      f"(got {len(streams)})")
            elif not errors and len(streams) != 1:
                p.add(where, "lines", f"daemon: {action} must send exactly one `stream` before `end` "
                      f"(got {len(streams)})")

    def _sdk(self, where, field, model_cls, data, name=None):
        try:
            model_cls.model_validate(data)
            return True
        except self.sdk.ValidationError as e:
            self.problems.add_sdk_error(where, field, name or model_cls.__name__, format_validation_error(e))
        except Exception as e:  # SDK validators may raise plain exceptions
            self.problems.add(where, field, f"sdk {name or model_cls.__name__}: {e}")
        return False

    # ---- payloads

    def check_error(self, where, field, data):
        """event.go::ErrorResponse, as Dify reads it (reference §3)."""
        p = self.problems
        etype = data.get("error_type")
        if not isinstance(etype, str) or not etype:
            p.add(where, at(field, "error_type"), f"daemon: required non-empty string (got {show(etype)})")
        if not isinstance(data.get("message"), str):
            p.add(where, at(field, "message"), f"daemon: required string (got {show(data.get('message'))})")
        args = data.get("args")
        if not isinstance(args, dict):
            p.add(where, at(field, "args"), f"daemon: required object (got {show(args)})")
        elif len(args) > dr.MAX_ERROR_ARGS:
            p.add(where, at(field, "args"), f"daemon: at most {dr.MAX_ERROR_ARGS} keys (got {len(args)}); "
                  "otherwise the daemon drops the error and reports success")
        elif isinstance(etype, str) and etype.startswith("Invoke"):
            # Newer Dify API reads args.description for Invoke* errors (the SDK sets it).
            desc = args.get("description")
            if not isinstance(desc, str) or not desc:
                p.add(where, at(at(field, "args"), "description"),
                      f"dify: {etype} needs a non-empty description (Dify shows it to the user)")

    def check_stream(self, where, field, action, data):
        pick = self.models.get(action)
        if pick is None:
            self.problems.add(where, field, f"input: no response schema known for action {action!r}")
            return
        model_cls = pick(data)
        self._sdk(where, field, model_cls, data)
        daemon_check = {
            "invoke_llm": self.daemon_llm_chunk,
            "get_llm_num_tokens": self.daemon_llm_num_tokens,
            "invoke_text_embedding": self.daemon_embedding,
            "invoke_multimodal_embedding": self.daemon_embedding,
            "get_text_embedding_num_tokens": self.daemon_embedding_num_tokens,
            "invoke_rerank": self.daemon_rerank,
            "invoke_multimodal_rerank": self.daemon_rerank,
            "validate_provider_credentials": self.daemon_validate,
            "validate_model_credentials": self.daemon_validate,
            "get_ai_model_schemas": self.daemon_model_schema,
            "start_polling": self.daemon_polling,
            "check_polling": self.daemon_polling,
        }[action]
        daemon_check(where, field, data)

    def _usage(self, where, field, usage, keys):
        if not isinstance(usage, dict):
            self.problems.add(where, field, f"daemon: must be an object (got {show(usage)})")
            return
        for key, kind in keys.items():
            if key not in usage or usage[key] is None:
                self.problems.add(where, at(field, key), "daemon: required (every usage key must be present and non-null)")
            else:
                dr.check_typed(self.problems, where, at(field, key), usage[key], kind)

    def _non_empty_model(self, where, field, data):
        model = data.get("model")
        if not isinstance(model, str) or not model:
            self.problems.add(where, at(field, "model"), f"daemon: required non-empty string (got {show(model)})")

    def daemon_llm_chunk(self, where, field, data):
        """model_entities.LLMResultChunk / LLMResultChunkDelta / PromptMessage / LLMUsage."""
        p = self.problems
        self._non_empty_model(where, field, data)
        if not isinstance(data.get("prompt_messages"), list):
            p.add(where, at(field, "prompt_messages"), "protocol: required list (deprecated, always [])")
        fp = data.get("system_fingerprint")
        if fp is not None and not isinstance(fp, str):
            p.add(where, at(field, "system_fingerprint"), "daemon: must be a string or null")
        so = data.get("structured_output")
        if so is not None and not isinstance(so, dict):
            p.add(where, at(field, "structured_output"), "daemon: must be an object or null")
        delta = data.get("delta")
        dfield = at(field, "delta")
        if not isinstance(delta, dict):
            p.add(where, dfield, f"daemon: required object (got {show(delta)})")
            return
        if "index" not in delta or delta["index"] is None:
            p.add(where, at(dfield, "index"), "daemon: required integer")
        else:
            dr.check_typed(p, where, at(dfield, "index"), delta["index"], "int")
        self._prompt_message(where, at(dfield, "message"), delta.get("message"))
        usage = delta.get("usage")
        if usage is not None:
            self._usage(where, at(dfield, "usage"), usage, dr.LLM_USAGE_KEYS)
        reason = delta.get("finish_reason")
        if reason is not None and not isinstance(reason, str):
            p.add(where, at(dfield, "finish_reason"), "daemon: must be a string or null")

    def _prompt_message(self, where, field, msg):
        """model_entities.PromptMessage.UnmarshalJSON + validation tags."""
        p = self.problems
        if not isinstance(msg, dict):
            p.add(where, field, f"daemon: required object (got {show(msg)})")
            return
        role = msg.get("role")
        if role not in dr.PROMPT_ROLES:
            p.add(where, at(field, "role"), f"daemon: must be one of {sorted(dr.PROMPT_ROLES)} (got {show(role)})")
        content = msg.get("content")
        cfield = at(field, "content")
        if "content" not in msg or content is None:
            p.add(where, cfield, "daemon: must never be null or missing; use \"\" (daemon: \"content field is required\")")
        elif isinstance(content, list):
            for i, item in enumerate(content):
                ifield = at(cfield, i)
                if not isinstance(item, dict):
                    p.add(where, ifield, "daemon: content items must be objects")
                    continue
                if item.get("type") not in dr.CONTENT_TYPES:
                    p.add(where, at(ifield, "type"),
                          f"daemon: must be one of {sorted(dr.CONTENT_TYPES)} (got {show(item.get('type'))})")
                for key in dr.CONTENT_STRING_FIELDS:
                    if item.get(key) is not None and not isinstance(item.get(key), str):
                        p.add(where, at(ifield, key), "daemon: must be a string")
        elif not isinstance(content, str):
            p.add(where, cfield, f"daemon: must be a string or a list of content items (got {show(content)})")
        for key in ("name", "tool_call_id"):
            if msg.get(key) is not None and not isinstance(msg.get(key), str):
                p.add(where, at(field, key), "daemon: must be a string or null")
        calls = msg.get("tool_calls")
        if calls is not None:
            if not isinstance(calls, list):
                p.add(where, at(field, "tool_calls"), "daemon: must be a list or null")
                return
            for i, call in enumerate(calls):
                tfield = at(at(field, "tool_calls"), i)
                if not isinstance(call, dict):
                    p.add(where, tfield, "daemon: must be an object")
                    continue
                for key in ("id", "type"):
                    if call.get(key) is not None and not isinstance(call.get(key), str):
                        p.add(where, at(tfield, key), "daemon: must be a string")
                fn = call.get("function")
                if fn is not None:
                    if not isinstance(fn, dict):
                        p.add(where, at(tfield, "function"), "daemon: must be an object")
                        continue
                    for key in ("name", "arguments"):
                        if fn.get(key) is not None and not isinstance(fn.get(key), str):
                            p.add(where, at(at(tfield, "function"), key),
                                  "daemon: must be a string (arguments is a JSON-encoded string)")

    def daemon_llm_num_tokens(self, where, field, data):
        if "num_tokens" not in data:
            self.problems.add(where, at(field, "num_tokens"), "daemon: required integer")
        else:
            dr.check_typed(self.problems, where, at(field, "num_tokens"), data["num_tokens"], "int")

    def daemon_embedding_num_tokens(self, where, field, data):
        counts = data.get("num_tokens")
        if not isinstance(counts, list):
            self.problems.add(where, at(field, "num_tokens"), f"daemon: required list of integers, one per text (got {show(counts)})")
            return
        for i, n in enumerate(counts):
            dr.check_typed(self.problems, where, at(at(field, "num_tokens"), i), n, "int")

    def daemon_embedding(self, where, field, data):
        """model_entities.TextEmbeddingResult / MultimodalEmbeddingResult."""
        p = self.problems
        self._non_empty_model(where, field, data)
        vectors = data.get("embeddings")
        efield = at(field, "embeddings")
        if not isinstance(vectors, list):
            p.add(where, efield, f"daemon: required list of vectors (got {show(vectors)})")
        else:
            for i, vec in enumerate(vectors):
                if not isinstance(vec, list):
                    p.add(where, at(efield, i), "daemon: each embedding must be a list of numbers")
                    continue
                bad = next((j for j, x in enumerate(vec) if not dr.is_number(x)), None)
                if bad is not None:
                    p.add(where, at(at(efield, i), bad), f"daemon: must be a number (got {show(vec[bad])})")
        if "usage" not in data or data["usage"] is None:
            p.add(where, at(field, "usage"), "daemon: required object")
        else:
            self._usage(where, at(field, "usage"), data["usage"], dr.EMBEDDING_USAGE_KEYS)

    def daemon_rerank(self, where, field, data):
        """model_entities.RerankResult / MultimodalRerankResult."""
        p = self.problems
        self._non_empty_model(where, field, data)
        docs = data.get("docs")
        dfield = at(field, "docs")
        if not isinstance(docs, list):
            p.add(where, dfield, f"daemon: required list (got {show(docs)})")
            return
        for i, doc in enumerate(docs):
            ifield = at(dfield, i)
            if not isinstance(doc, dict):
                p.add(where, ifield, "daemon: must be an object {index, text, score}")
                continue
            for key, kind in (("index", "int"), ("text", "string"), ("score", "float")):
                if key not in doc or doc[key] is None:
                    p.add(where, at(ifield, key), "daemon: required")
                else:
                    dr.check_typed(p, where, at(ifield, key), doc[key], kind)

    def daemon_validate(self, where, field, data):
        """model_entities.ValidateCredentialsResult."""
        if not isinstance(data.get("result"), bool):
            self.problems.add(where, at(field, "result"), f"daemon: required boolean (got {show(data.get('result'))})")
        if not isinstance(data.get("credentials"), dict):
            self.problems.add(where, at(field, "credentials"),
                              f"protocol: required object (Dify stores the returned credentials) (got {show(data.get('credentials'))})")

    def daemon_model_schema(self, where, field, data):
        """model_entities.GetModelSchemasResponse: a ModelDeclaration decoded from JSON
        (template expansion + validation as for YAML files) or null."""
        if "model_schema" not in data:
            self.problems.add(where, at(field, "model_schema"), "protocol: required (a model declaration or null)")
            return
        schema = data["model_schema"]
        if schema is not None:
            dr.check_model_declaration(self.problems, where, at(field, "model_schema"), schema)

    def daemon_polling(self, where, field, data):
        """model_entities.ModelPollingResult (the daemon reads exactly one)."""
        p = self.problems
        status = data.get("status")
        if status not in dr.POLLING_STATUSES:
            p.add(where, at(field, "status"), f"daemon: must be one of {sorted(dr.POLLING_STATUSES)} (got {show(status)})")
        state = data.get("plugin_state")
        if state is not None and not isinstance(state, dict):
            p.add(where, at(field, "plugin_state"), f"daemon: must be an object or absent (got {show(state)})")
        error = data.get("error")
        if error is not None and not isinstance(error, str):
            p.add(where, at(field, "error"), f"daemon: must be a string or absent (got {show(error)})")
        for key in dr.POLLING_INT_FIELDS:
            if data.get(key) is not None:
                dr.check_typed(p, where, at(field, key), data[key], "int")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print(f"usage: {os.path.basename(argv[0])} FILE.jsonl", file=sys.stderr)
        return 2
    try:
        sdk = load_sdk()
    except SdkUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    checker = ResponseChecker(sdk)
    try:
        checker.check_file(argv[1])
    except OSError as e:
        print(f"error: cannot read {argv[1]}: {e}", file=sys.stderr)
        return 2
    for line in checker.problems.lines:
        print(line)
    print(f"responses: {checker.sessions} sessions checked, {len(checker.problems)} problems")
    return 1 if checker.problems.lines else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
