"""A scripted OpenAI-compatible chat server for tests: real HTTP on 127.0.0.1, faults on demand.

By default it answers every ``POST /v1/chat/completions`` with a JSON object valid for the
request's schema (from ``response_format`` or the ``JSON schema:`` line of the prompt), built
from the sentences of the last user message so different prompts get different answers.
``add_fault`` scripts failures (429, 500, timeouts, broken or repairable JSON, truncation,
reasoning) for matching requests; ``requests`` and ``log`` record what was received.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

FAULT_KINDS = {
    "429", "500", "400", "401", "timeout", "broken_json", "repairable_json", "truncated", "think",
    "reasoning_field", "empty",
}
_HTTP_FAULTS = {"429": 429, "500": 500, "400": 400, "401": 401}
# A "." before a non-space (e-mail, IP, version, "e.g.") does not end a sentence.
_SENTENCE = re.compile(r"(?:[^.!?。！？\n]|[.!?](?=[^\s.!?]))+[.!?。！？]?")
_TAGGED = re.compile(r"<([A-Za-z_][\w-]*)>(.*?)</\1>", re.S)
_CJK = re.compile(r"[\u3400-\u9fff]")
# Self-contained, like the questions the stage asks for (no "the text" / "文中").
_QUESTION_TEMPLATES = (
    "What matters about {}?", "Why is it true that {}?",
    "How would you explain {}?", "What can be concluded from {}?",
    "Which details support {}?",
)
_QUESTION_TEMPLATES_ZH = ("关于“{}”，应该怎么理解？", "为什么说“{}”？", "如何理解“{}”？")
# Booleans named like these default to False (a judge's "injection_suspected" should not fire).
_FALSE_HINTS = ("suspect", "injection", "refus", "error", "toxic", "pii", "harm", "unsafe")


def _hash(*parts: str) -> int:
    return int(hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:12], 16)


def _text_of(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content") or "") for m in body.get("messages", []))


def _last_user(body: dict[str, Any]) -> str:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    return str(users[-1].get("content") or "") if users else _text_of(body)


def schema_of_request(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema a request asks for: response_format first, else the prompt's line."""
    fmt = body.get("response_format") or {}
    if isinstance(fmt.get("schema"), dict):
        return fmt["schema"]
    if isinstance((fmt.get("json_schema") or {}).get("schema"), dict):
        return fmt["json_schema"]["schema"]
    lines = _text_of(body).splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.strip() == "JSON schema:":
            try:
                return json.loads(lines[i + 1])
            except json.JSONDecodeError:
                return None
    return None


class ValueMaker:
    """Builds a value valid for a JSON schema from the sentences of a prompt."""

    def __init__(self, prompt: str, schema: dict[str, Any]) -> None:
        # Prompts wrap the source text in a tag (<passage>...</passage>): the longest such
        # block is the content; the instructions around it are not.
        blocks = [m.group(2) for m in _TAGGED.finditer(prompt)]
        source = max(blocks, key=len) if blocks else prompt
        keep = [s.strip() for s in _SENTENCE.findall(source)]
        # Prompt boilerplate about the output format is not content.
        keep = [s for s in keep if len(s) > 3 and "json" not in s.lower()]
        self.sentences = keep or [prompt.strip()[:200] or "The text is empty."]
        self.prompt, self.defs = prompt, schema.get("$defs", {})

    def make(self, schema: dict[str, Any], path: str = "", name: str = "") -> Any:
        """A value for ``schema`` at JSON ``path`` (field ``name`` gives hints)."""
        if "$ref" in schema:
            return self.make(self.defs[schema["$ref"].split("/")[-1]], path, name)
        for key in ("anyOf", "oneOf", "allOf"):
            if key in schema:
                options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
                return self.make(options[0], path, name)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][_hash(self.prompt, path) % len(schema["enum"])]
        kind = schema.get("type", "object" if "properties" in schema else "string")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        maker = getattr(self, f"_{kind}", None)
        return maker(schema, path, name) if maker else None

    def _object(self, schema: dict[str, Any], path: str, name: str) -> dict[str, Any]:
        props = schema.get("properties", {})
        return {k: self.make(v, f"{path}.{k}", k) for k, v in props.items()}

    def _array(self, schema: dict[str, Any], path: str, name: str) -> list[Any]:
        lo, hi = schema.get("minItems", 0), schema.get("maxItems")
        n = lo if lo == hi else (lo or 1)
        n = min(n, hi) if hi is not None else n
        item_name = name[:-1] if name.endswith("s") else name
        return [self.make(schema.get("items", {}), f"{path}[{i}]", item_name) for i in range(n)]

    def _integer(self, schema: dict[str, Any], path: str, name: str) -> int:
        return int(round(self._number(schema, path, name, step=1)))

    def _number(self, schema: dict[str, Any], path: str, name: str, step: float = 0.0) -> float:
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if lo is None and "exclusiveMinimum" in schema:
            lo = schema["exclusiveMinimum"] + (step or 1e-3)
        if hi is None and "exclusiveMaximum" in schema:
            hi = schema["exclusiveMaximum"] - (step or 1e-3)
        if lo is not None and hi is not None:
            return lo + round(0.78 * (hi - lo), 3)  # high but not the max: 8 of 1-10
        if lo is not None or hi is not None:
            return lo if lo is not None else min(hi, 1)
        return 1

    def _boolean(self, schema: dict[str, Any], path: str, name: str) -> bool:
        return not any(h in name.lower() for h in _FALSE_HINTS)

    def _null(self, schema: dict[str, Any], path: str, name: str) -> None:
        return None

    def _string(self, schema: dict[str, Any], path: str, name: str) -> str:
        # Items of one array get consecutive sentences (and templates), so they differ.
        indexes = re.findall(r"\[(\d+)\]", path)
        index = int(indexes[-1]) if indexes else 0
        pick = (_hash(self.prompt, re.sub(r"\[\d+\]", "", path)) + index) % len(self.sentences)
        sentence = self.sentences[pick]
        lname = name.lower()
        if "question" in lname or lname in ("instruction", "query"):
            text = self._question(sentence, index)
        elif "answer" in lname or lname in ("output", "response"):
            text = " ".join(self.sentences[(pick + k) % len(self.sentences)] for k in range(2))
        else:
            text = sentence
        return self._fit(text, schema)

    def _question(self, sentence: str, index: int) -> str:
        topic = sentence.rstrip(".!?。！？")
        if _CJK.search(sentence):
            return _QUESTION_TEMPLATES_ZH[index % len(_QUESTION_TEMPLATES_ZH)].format(topic[:30])
        topic = " ".join(topic.split()[:10])
        if topic[1:2].islower():  # "Prepared" -> "prepared", but keep "SQL", "WAFs"
            topic = topic[:1].lower() + topic[1:]
        return _QUESTION_TEMPLATES[index % len(_QUESTION_TEMPLATES)].format(topic)

    @staticmethod
    def _fit(text: str, schema: dict[str, Any]) -> str:
        lo, hi = schema.get("minLength", 0), schema.get("maxLength")
        text = text or "text"
        while len(text) < lo:
            text = f"{text} {text}"
        return text[:hi] if hi is not None else text


def default_content(body: dict[str, Any]) -> str:
    """The default reply: schema-valid JSON derived from the last user message."""
    schema = schema_of_request(body)
    prompt = _last_user(body)
    if schema is None:
        return ValueMaker(prompt, {}).sentences[0]
    return json.dumps(ValueMaker(prompt, schema).make(schema), ensure_ascii=False)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stalled "timeout" handler must not block shutdown
    request_queue_size = 128  # flow tests open many connections at once


@dataclass
class _Fault:
    kind: str
    times: int
    match: str | None
    retry_after: float | None


class FakeLLM:
    """Scripted OpenAI-compatible server; use as a context manager or ``start()``/``stop()``.

    ``reasoning=True`` puts a ``<think>`` block before every content. ``api_key`` makes the
    server answer 401 (echoing the presented key, like real providers) to any other key.
    ``timeout_sleep_s`` is how long a "timeout" fault stalls before answering; ``latency_s``
    delays every answer (so ``peak_in_flight`` can show a client's concurrency).
    """

    def __init__(self, reasoning: bool = False, api_key: str | None = None,
                 timeout_sleep_s: float = 3.0, latency_s: float = 0.0,
                 model: str = "fake-model") -> None:
        self.reasoning, self.api_key, self.model = reasoning, api_key, model
        self.timeout_sleep_s, self.latency_s = timeout_sleep_s, latency_s
        self.peak_in_flight = 0
        self._in_flight = 0
        self.responder: Callable[[dict[str, Any]], str | dict[str, Any]] | None = None
        self.log: list[dict[str, Any]] = []
        self._faults: list[_Fault] = []
        self._count = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    @property
    def requests(self) -> int:
        """POST /chat/completions received so far."""
        with self._lock:
            return self._count

    def add_fault(self, kind: str, times: int = 1, match: str | None = None,
                  retry_after: float | None = None) -> None:
        """Give the next ``times`` requests (-1 = all) whose messages contain ``match`` a fault."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {sorted(FAULT_KINDS)}")
        with self._lock:
            self._faults.append(_Fault(kind, times, match, retry_after))

    def start(self) -> "FakeLLM":
        """Serve on a free port of 127.0.0.1 in a daemon thread."""
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _make_handler(self))
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; stalled "timeout" handlers wake up and drop their reply."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeLLM":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _take_fault(self, body: dict[str, Any], consume: bool) -> _Fault | None:
        text = _text_of(body)
        with self._lock:
            self._count += 1
            self.log.append(body)
            for fault in self._faults if consume else []:
                if fault.times != 0 and (fault.match is None or fault.match in text):
                    fault.times -= 1 if fault.times > 0 else 0
                    return fault
        return None

    def handle(self, body: dict[str, Any], auth: str) -> tuple[int, dict[str, str], dict]:
        """(status, headers, JSON body) for one chat request; tracks requests in flight."""
        with self._lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            if self.latency_s:
                self._stopping.wait(self.latency_s)
            return self._answer(body, auth)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(self, body: dict[str, Any], auth: str) -> tuple[int, dict[str, str], dict]:
        authorized = self.api_key is None or auth == f"Bearer {self.api_key}"
        fault = self._take_fault(body, consume=authorized)
        if not authorized:
            fault = _Fault("401", 1, None, None)
        kind = fault.kind if fault else ""
        if kind in _HTTP_FAULTS:
            return self._http_fault(kind, fault, auth)
        if kind == "timeout" and self._stopping.wait(self.timeout_sleep_s):
            return 503, {}, {"error": {"message": "server stopping"}}
        reply = self._reply(body)
        _apply_content_fault(kind, reply)
        if self.reasoning:
            think = "<think>Reading the request step by step.</think>"
            reply["content"] = f"{think}\n{reply['content']}"
        return 200, {}, self._completion(body, reply)

    @staticmethod
    def _http_fault(kind: str, fault: _Fault, auth: str) -> tuple[int, dict[str, str], dict]:
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            ra = fault.retry_after
            headers["Retry-After"] = str(int(ra)) if float(ra).is_integer() else str(ra)
        message = {"429": "Rate limit reached, slow down", "500": "Internal server error",
                   "400": "Invalid request: unsupported parameter",
                   "401": f"Incorrect API key provided: {auth.removeprefix('Bearer ')}"}[kind]
        return _HTTP_FAULTS[kind], headers, {"error": {"message": message, "type": kind}}

    def _reply(self, body: dict[str, Any]) -> dict[str, Any]:
        out = self.responder(body) if self.responder else default_content(body)
        reply = {"content": out} if isinstance(out, str) else dict(out)
        reply.setdefault("finish_reason", "stop")
        reply.setdefault("content", "")
        return reply

    def _completion(self, body: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
        message = {"role": "assistant", "content": reply["content"]}
        if reply.get("reasoning_content"):
            message["reasoning_content"] = reply["reasoning_content"]
        prompt_tokens = len(_text_of(body)) // 4 + 1
        completion_tokens = len(reply["content"] or "") // 4 + 1
        return {
            "id": f"chatcmpl-{self.requests}", "object": "chat.completion",
            "created": int(time.time()), "model": body.get("model", self.model),
            "choices": [{"index": 0, "message": message, "finish_reason": reply["finish_reason"]}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }


def _apply_content_fault(kind: str, reply: dict[str, Any]) -> None:
    """Rewrite a good reply in place into the faulty one ``kind`` asks for."""
    content = reply["content"]
    if kind == "broken_json":
        reply["content"] = "I am sorry, I cannot answer that in the requested format."
    elif kind == "repairable_json" and content.rstrip().endswith("}"):
        # Markdown fence + trailing comma + missing closing brace: all fixed by json-repair.
        reply["content"] = f"```json\n{content.rstrip()[:-1].rstrip()},\n```"
    elif kind == "truncated":
        reply["content"], reply["finish_reason"] = content[: max(1, len(content) // 2)], "length"
    elif kind == "think":
        reply["content"] = f"<think>First I find the key facts, then I answer.</think>\n{content}"
    elif kind == "reasoning_field":
        reply["reasoning_content"] = "The question asks for facts; I check the text first."
    elif kind == "empty":
        reply["content"] = ""


def _make_handler(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            try:
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout): nothing to deliver

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._send(200, {"object": "list", "data": [{"id": fake.model, "object": "model"}]})
            else:
                self._send(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, {"error": {"message": "not found"}})
                return
            status, headers, payload = fake.handle(body, self.headers.get("Authorization", ""))
            self._send(status, payload, headers)

    return Handler
