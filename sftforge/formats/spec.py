"""What each trainer format looks like (field names, role tags), as LLaMA-Factory and ms-swift
read them.

LLaMA-Factory (``data/converter.py``): ShareGPT ``conversations`` of ``{from, value}`` with tags
human/gpt/system/function_call/observation, user (or observation) on odd turns, assistant (or
function_call) on even turns, an even count after an optional leading system message (an odd
count for ranking rows, whose ``chosen``/``rejected`` are message objects); Alpaca
``instruction``/``input``/``output``/``system``/``history`` ([[query, response], ...]), ranking
rows with string ``chosen``/``rejected``; OpenAI ``messages`` of ``{role, content}``.
ms-swift: ``messages`` (system/user/assistant/tool_call/tool_response), DPO adds
``rejected_response``.
"""

from __future__ import annotations

FORMATS = ("alpaca", "sharegpt", "messages", "swift", "dpo-alpaca", "dpo-sharegpt")
DPO_FORMATS = frozenset({"dpo-alpaca", "dpo-sharegpt"})

# Neutral roles (what a Record's messages use) <-> ShareGPT tags.
SHAREGPT_TAG = {"system": "system", "user": "human", "assistant": "gpt",
                "function_call": "function_call", "observation": "observation"}
SHAREGPT_ROLE = {tag: role for role, tag in SHAREGPT_TAG.items()}
# Neutral roles <-> OpenAI/ms-swift roles (tool calls are the assistant's, tool output the user's
# side of the turn order, as in LLaMA-Factory).
OPENAI_ROLE_OF = {"system": "system", "user": "user", "assistant": "assistant",
                  "tool_call": "function_call", "function_call": "function_call",
                  "tool": "observation", "tool_response": "observation",
                  "observation": "observation"}
OPENAI_TAG = {"system": "system", "user": "user", "assistant": "assistant",
              "function_call": "tool_call", "observation": "tool_response"}
# Which neutral roles may stand on odd (1st, 3rd, ...) and even turns.
ODD_ROLES = frozenset({"user", "observation"})
EVEN_ROLES = frozenset({"assistant", "function_call"})


class FormatError(ValueError):
    """A file or row that cannot be read as the format asked for; the message names where."""
