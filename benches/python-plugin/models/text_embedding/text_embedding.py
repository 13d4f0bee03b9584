"""invoke_text_embedding through InvokeModel, mirroring the official plugin: one client
per request and one InvokeModel call per text, in order (Titan {inputText}; Cohere v3
{texts: [text], input_type} with the official plugin's batch-size heuristic)."""

import json
import time

from dify_plugin import TextEmbeddingModel
from dify_plugin.entities.model import EmbeddingInputType, PriceType
from dify_plugin.entities.model.text_embedding import EmbeddingUsage, TextEmbeddingResult

from provider.bedrock import get_bedrock_client


class BedrockTextEmbeddingModel(TextEmbeddingModel):
    def _invoke(
        self,
        model: str,
        credentials: dict,
        texts: list[str],
        user: str | None = None,
        input_type: EmbeddingInputType = EmbeddingInputType.DOCUMENT,
    ) -> TextEmbeddingResult:
        client = get_bedrock_client("bedrock-runtime", credentials)
        embeddings, tokens = [], 0
        started = time.perf_counter()
        for text in texts:
            if model.startswith("cohere."):
                body = {"texts": [text], "input_type": "search_document" if len(texts) > 1 else "search_query"}
            else:
                body = {"inputText": text}
            response = client.invoke_model(
                body=json.dumps(body), modelId=model, accept="application/json", contentType="application/json"
            )
            answer = json.loads(response.get("body").read())
            if model.startswith("cohere."):
                embeddings.append(answer["embeddings"][0])
                tokens += len(text)
            else:
                embeddings.append(answer["embedding"])
                tokens += answer.get("inputTextTokenCount", 0)
        return TextEmbeddingResult(
            model=model, embeddings=embeddings, usage=self._usage(model, credentials, tokens, started)
        )

    def _usage(self, model, credentials, tokens, started) -> EmbeddingUsage:
        price = self.get_price(model=model, credentials=credentials, price_type=PriceType.INPUT, tokens=tokens)
        return EmbeddingUsage(
            tokens=tokens,
            total_tokens=tokens,
            unit_price=price.unit_price,
            price_unit=price.unit,
            total_price=price.total_amount,
            currency=price.currency,
            latency=time.perf_counter() - started,
        )

    def get_num_tokens(self, model: str, credentials: dict, texts: list[str]) -> list[int]:
        return [len(t) // 4 for t in texts]

    def validate_credentials(self, model: str, credentials: dict) -> None:
        pass

    @property
    def _invoke_error_mapping(self) -> dict:
        return {}
