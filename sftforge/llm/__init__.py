"""LLM access: the OpenAI-compatible gateway, structured (JSON) replies, request cache, failure
ledger, endpoints per role, the embedded model and the Jinja2 prompts."""
