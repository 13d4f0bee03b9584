"""Entry point, as the official Bedrock plugin's: the SDK's plugin with a 120 s request timeout."""

from dify_plugin import DifyPluginEnv, Plugin

plugin = Plugin(DifyPluginEnv(MAX_REQUEST_TIMEOUT=120))

if __name__ == "__main__":
    plugin.run()
