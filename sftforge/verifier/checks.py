"""The verifier's yes/no checks, in English and Chinese, and the chat messages that ask one.

Input: a source passage, a question, an answer, a check name and a language. Output: chat
messages (``sftforge/llm/prompts/verify.*.j2``) whose text is the same for every check of one
pair up to the check question, which comes last: a server's prompt cache (llama.cpp keeps the
previous request's tokens) evaluates the passage and the pair once for all checks.
"""

from __future__ import annotations

from sftforge.llm.prompting import render
from sftforge.text import detect_lang

# name -> the question, per language; each ends with the one-word reply it wants.
CHECKS: dict[str, dict[str, str]] = {
    "supported": {
        "en": "Is every claim in the answer stated in the source passage? "
              "Reply with one word: yes or no.",
        "zh": "答案中的每一个说法都在原文段落中有明确陈述吗？只回答一个字：是 或 否。",
    },
    "answers": {
        "en": "Does the answer directly and completely answer the question? "
              "Reply with one word: yes or no.",
        "zh": "答案是否直接、完整地回答了这个问题？只回答一个字：是 或 否。",
    },
    "self_contained": {
        "en": "Can the question be understood by someone who has not seen the passage? "
              "Reply with one word: yes or no.",
        "zh": "没有看过原文段落的人能看懂这个问题吗？只回答一个字：是 或 否。",
    },
}
DEFAULT_CHECKS: tuple[str, ...] = ("supported", "answers", "self_contained")


def pair_lang(question: str, answer: str) -> str:
    """``zh`` for a Chinese pair, else ``en`` (the check wording the pair is asked in)."""
    return "zh" if detect_lang(f"{question}\n{answer}") == "zh" else "en"


def check_messages(source: str, question: str, answer: str, check: str,
                   lang: str | None = None) -> list[dict[str, str]]:
    """System + user messages asking ``check`` of one pair (``lang`` None: from the pair)."""
    if check not in CHECKS:
        raise KeyError(f"unknown check {check!r}; known: {', '.join(CHECKS)}")
    lang = lang if lang in ("en", "zh") else pair_lang(question, answer)
    return render("verify", source=source, question=question, answer=answer,
                  check=CHECKS[check][lang], lang=lang)
