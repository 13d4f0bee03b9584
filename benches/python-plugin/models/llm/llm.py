"""invoke_llm through ConverseStream (or Converse), mirroring the official plugin's hot
path: a boto3 client per request, one LLMResultChunk per text delta, tool calls and usage
in one last chunk when the metadata event arrives."""

import json
from collections.abc import Generator

from dify_plugin import LargeLanguageModel
from dify_plugin.entities.model.llm import LLMResult, LLMResultChunk, LLMResultChunkDelta
from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    PromptMessage,
    PromptMessageTool,
    SystemPromptMessage,
    ToolPromptMessage,
    UserPromptMessage,
)

from provider.bedrock import get_bedrock_client


def _text(content) -> str:
    if isinstance(content, str):
        return content
    return "".join(getattr(part, "data", "") for part in content or [] if getattr(part, "type", "") == "text")


class BedrockLargeLanguageModel(LargeLanguageModel):
    def _invoke(
        self,
        model: str,
        credentials: dict,
        prompt_messages: list[PromptMessage],
        model_parameters: dict,
        tools: list[PromptMessageTool] | None = None,
        stop: list[str] | None = None,
        stream: bool = True,
        user: str | None = None,
    ) -> LLMResult | Generator:
        client = get_bedrock_client("bedrock-runtime", credentials)
        system, messages = self._convert_messages(prompt_messages)
        inference = {}
        if "max_tokens" in model_parameters:
            inference["maxTokens"] = model_parameters["max_tokens"]
        if "temperature" in model_parameters:
            inference["temperature"] = model_parameters["temperature"]
        if "top_p" in model_parameters:
            inference["topP"] = model_parameters["top_p"]
        if stop:
            inference["stopSequences"] = stop
        params = {
            "modelId": model,
            "messages": messages,
            "inferenceConfig": inference,
            "additionalModelRequestFields": {},
        }
        if system:
            params["system"] = system
        if tools:
            params["toolConfig"] = {
                "tools": [
                    {"toolSpec": {"name": t.name, "description": t.description, "inputSchema": {"json": t.parameters}}}
                    for t in tools
                ]
            }
        if stream:
            response = client.converse_stream(**params)
            return self._handle_stream(model, credentials, response, prompt_messages)
        response = client.converse(**params)
        return self._handle_blocking(model, credentials, response, prompt_messages)

    @staticmethod
    def _convert_messages(prompt_messages: list[PromptMessage]):
        system, messages = [], []
        for m in prompt_messages:
            if isinstance(m, SystemPromptMessage):
                system.append({"text": _text(m.content)})
            elif isinstance(m, UserPromptMessage):
                messages.append({"role": "user", "content": [{"text": _text(m.content)}]})
            elif isinstance(m, ToolPromptMessage):
                messages.append(
                    {
                        "role": "user",
                        "content": [
                            {"toolResult": {"toolUseId": m.tool_call_id, "content": [{"json": {"text": _text(m.content)}}]}}
                        ],
                    }
                )
            elif isinstance(m, AssistantPromptMessage):
                if m.tool_calls:
                    content = [
                        {"toolUse": {"toolUseId": c.id, "name": c.function.name, "input": json.loads(c.function.arguments or "{}")}}
                        for c in m.tool_calls
                    ]
                else:
                    content = [{"text": _text(m.content)}]
                messages.append({"role": "assistant", "content": content})
        # Consecutive turns of one role are merged, as Bedrock requires alternation.
        merged = []
        for m in messages:
            if merged and merged[-1]["role"] == m["role"]:
                merged[-1]["content"].extend(m["content"])
            else:
                merged.append(m)
        return system, merged

    def _handle_stream(self, model, credentials, response, prompt_messages) -> Generator:
        index = 0
        finish_reason = None
        tool_calls = []
        current_tool = None
        for event in response["stream"]:
            if "contentBlockStart" in event:
                start = event["contentBlockStart"].get("start", {})
                if "toolUse" in start:
                    current_tool = {"id": start["toolUse"]["toolUseId"], "name": start["toolUse"]["name"], "args": ""}
            elif "contentBlockDelta" in event:
                delta = event["contentBlockDelta"]["delta"]
                if "text" in delta:
                    yield LLMResultChunk(
                        model=model,
                        prompt_messages=prompt_messages,
                        delta=LLMResultChunkDelta(
                            index=index,
                            message=AssistantPromptMessage(content=delta["text"], tool_calls=[]),
                        ),
                    )
                    index += 1
                elif "toolUse" in delta and current_tool is not None:
                    current_tool["args"] += delta["toolUse"].get("input", "")
            elif "contentBlockStop" in event:
                if current_tool is not None:
                    tool_calls.append(
                        AssistantPromptMessage.ToolCall(
                            id=current_tool["id"],
                            type="function",
                            function=AssistantPromptMessage.ToolCall.ToolCallFunction(
                                name=current_tool["name"], arguments=current_tool["args"]
                            ),
                        )
                    )
                    current_tool = None
            elif "messageStop" in event:
                finish_reason = event["messageStop"]["stopReason"]
            elif "metadata" in event:
                usage = event["metadata"].get("usage", {})
                yield LLMResultChunk(
                    model=model,
                    prompt_messages=prompt_messages,
                    delta=LLMResultChunkDelta(
                        index=index,
                        message=AssistantPromptMessage(content="", tool_calls=tool_calls),
                        finish_reason=finish_reason,
                        usage=self._calc_response_usage(
                            model, credentials, usage.get("inputTokens", 0), usage.get("outputTokens", 0)
                        ),
                    ),
                )

    def _handle_blocking(self, model, credentials, response, prompt_messages) -> LLMResult:
        content = response["output"]["message"]["content"]
        text = next((b["text"] for b in content if "text" in b), "")
        usage = response.get("usage", {})
        return LLMResult(
            model=model,
            prompt_messages=prompt_messages,
            message=AssistantPromptMessage(content=text),
            usage=self._calc_response_usage(
                model, credentials, usage.get("inputTokens", 0), usage.get("outputTokens", 0)
            ),
        )

    def get_num_tokens(self, model, credentials, prompt_messages, tools=None) -> int:
        # Not measured; a rough count keeps the tokenizer out of the process.
        return sum(len(_text(m.content)) for m in prompt_messages) // 4

    def validate_credentials(self, model: str, credentials: dict) -> None:
        pass

    @property
    def _invoke_error_mapping(self) -> dict:
        return {}
