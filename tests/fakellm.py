"""A scripted OpenAI-compatible chat server for tests: real HTTP on 127.0.0.1, faults on demand.

By default it answers every ``POST /v1/chat/completions`` with a JSON object valid for the
request's schema (from ``response_format`` or the ``JSON schema:`` line of the prompt), built
from the sentences of the last user message so different prompts get different answers.
``add_fault`` scripts failures (429, 500, timeouts, broken or repairable JSON, truncation,
reasoning) for matching requests; ``requests`` and ``log`` record what was received.
Realism is switched on per test: ``judge="evidence"`` scores answers by their overlap with the
source and flags text addressed to the reviewer, ``answers="grounded"`` answers from the passage
sentences closest to the question, and faults give wrong, off-topic, wrong-language or borrowed
answers, replies that break the schema, JSON in prose, repetition to ``max_tokens``, a 200 with an
error body, an HTML 502 page or a connection reset mid-body.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from tests import fakellm_realism as realism
from tests import fakellm_tree
from tests import fakellm_verify
from tests.fakellm_values import (
    _last_user,
    _text_of,
    cite_answer,
    default_content,
    schema_of_request,
)

__all__ = ["FAULT_KINDS", "FakeLLM", "default_content", "schema_of_request"]

FAULT_KINDS = {
    "429", "500", "400", "401", "timeout", "broken_json", "repairable_json", "truncated", "think",
    "reasoning_field", "empty",
    # like real models and gateways (see tests/fakellm_realism.py):
    *realism.ANSWER_FAULTS, *realism.SCHEMA_FAULTS, "json_in_prose", "repetition",
    "error_body", "html_502", "reset",
    "error_body_key",  # a 200 whose error body echoes the presented key (secret audits)
    *fakellm_verify.VERIFY_FAULTS,  # yes/no verifier replies (tests/fakellm_verify.py)
}
_HTTP_FAULTS = {"429": 429, "500": 500, "400": 400, "401": 401}


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stalled "timeout" handler must not block shutdown
    request_queue_size = 128  # flow tests open many connections at once


@dataclass
class _Fault:
    kind: str
    times: int
    match: str | tuple[str, ...] | None
    retry_after: float | None

    def matches(self, text: str) -> bool:
        """Every string of ``match`` occurs in the request's messages."""
        needles = (self.match,) if isinstance(self.match, str) else self.match or ()
        return all(n in text for n in needles)


@dataclass
class Raw:
    """A reply that is not JSON (an HTML error page) or is cut off by a connection reset."""

    data: bytes
    content_type: str = "application/json"
    reset: bool = False


class FakeLLM:
    """Scripted OpenAI-compatible server; use as a context manager or ``start()``/``stop()``.

    ``reasoning=True`` puts a ``<think>`` block before every content. ``api_key`` makes the
    server answer 401 (echoing the presented key, like real providers) to any other key.
    ``timeout_sleep_s`` is how long a "timeout" fault stalls before answering; ``latency_s``
    delays every answer (so ``peak_in_flight`` can show a client's concurrency).
    ``judge``: ``"kind"`` (default: schema-valid values, 8 of 10, no injection) or ``"evidence"``
    (``realism.evidence_verdict``). ``answers``: ``"echo"`` (default: passage sentences) or
    ``"grounded"`` (the sentences closest to the question).
    """

    def __init__(self, reasoning: bool = False, api_key: str | None = None,
                 timeout_sleep_s: float = 3.0, latency_s: float = 0.0,
                 model: str = "fake-model", judge: str = "kind", answers: str = "echo") -> None:
        self.reasoning, self.api_key, self.model = reasoning, api_key, model
        self.judge, self.answers = judge, answers
        self.passages: list[str] = []  # <passage> blocks seen, for "other_chunk" answers
        self.timeout_sleep_s, self.latency_s = timeout_sleep_s, latency_s
        self.peak_in_flight = 0
        self._in_flight = 0
        # rendezvous=k: each request waits (up to rendezvous_wait_s) until k are in flight at
        # once, so a client's concurrency shows in peak_in_flight without timing luck.
        self.rendezvous, self.rendezvous_wait_s = 0, 30.0
        self._group = 0
        self.responder: Callable[[dict[str, Any]], str | dict[str, Any]] | None = None
        self.log: list[dict[str, Any]] = []
        self._faults: list[_Fault] = []
        self._count = 0
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    @property
    def requests(self) -> int:
        """POST /chat/completions received so far."""
        with self._lock:
            return self._count

    @property
    def in_flight(self) -> int:
        """Requests received and not yet answered (a killed client's may still be pending)."""
        with self._lock:
            return self._in_flight

    def add_fault(self, kind: str, times: int = 1, match: str | tuple[str, ...] | None = None,
                  retry_after: float | None = None) -> None:
        """Give the next ``times`` requests (-1 = all) whose messages contain ``match`` (every
        string of it, when a tuple) a fault."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {sorted(FAULT_KINDS)}")
        with self._lock:
            self._faults.append(_Fault(kind, times, match, retry_after))

    def clear_faults(self) -> None:
        """Forget every scripted fault: the endpoint is healthy again."""
        with self._lock:
            self._faults.clear()

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
                if fault.times != 0 and fault.matches(text):
                    fault.times -= 1 if fault.times > 0 else 0
                    return fault
        return None

    def handle(self, body: dict[str, Any], auth: str) -> tuple[int, dict[str, str], dict | Raw]:
        """(status, headers, JSON body) for one chat request; tracks requests in flight."""
        with self._lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            self._meet()
        try:
            if self.latency_s:
                self._stopping.wait(self.latency_s)
            return self._answer(body, auth)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _meet(self) -> None:
        """With ``rendezvous``: wait until that many requests are in flight (lock held)."""
        if not self.rendezvous:
            return
        group = self._group
        if self._in_flight >= self.rendezvous:
            self._group += 1  # this request completes a group: release every waiter
            self._arrived.notify_all()
            return
        self._arrived.wait_for(lambda: self._group != group, timeout=self.rendezvous_wait_s)

    def _answer(self, body: dict[str, Any], auth: str) -> tuple[int, dict[str, str], dict | Raw]:
        authorized = self.api_key is None or auth == f"Bearer {self.api_key}"
        fault = self._take_fault(body, consume=authorized)
        if not authorized:
            fault = _Fault("401", 1, None, None)
        kind = fault.kind if fault else ""
        if kind in _HTTP_FAULTS:
            return self._http_fault(kind, fault, auth)
        if kind == "timeout" and self._stopping.wait(self.timeout_sleep_s):
            return 503, {}, {"error": {"message": "server stopping"}}
        if kind in _TRANSPORT_FAULTS:
            return _TRANSPORT_FAULTS[kind]
        if kind == "error_body_key":
            key = auth.removeprefix("Bearer ")
            return 200, {}, {"error": {"message": f"Quota exceeded for API key {key}",
                                       "type": "insufficient_quota", "code": 429}}
        if fakellm_verify.is_verify_request(body) and not self.responder:
            return self._verify(body, kind)
        reply = self._reply(body, kind)
        _apply_content_fault(kind, reply, body)
        if self.reasoning:
            think = "<think>Reading the request step by step.</think>"
            reply["content"] = f"{think}\n{reply['content']}"
        return 200, {}, self._completion(body, reply)

    def _verify(self, body: dict[str, Any], kind: str) -> tuple[int, dict[str, str], dict]:
        """A yes/no verifier answer: one token, with its log-probabilities when asked."""
        if kind == "reject_logprobs" and body.get("logprobs"):
            return 400, {}, {"error": {"message": "logprobs is not supported by this model",
                                       "type": "invalid_request_error"}}
        content, logprobs = fakellm_verify.reply(body, kind)
        completion = self._completion(body, {"content": content, "finish_reason": "length"})
        completion["choices"][0]["logprobs"] = logprobs
        return 200, {}, completion

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

    def _reply(self, body: dict[str, Any], kind: str = "") -> dict[str, Any]:
        out = self.responder(body) if self.responder else self._content(body, kind)
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


    def _content(self, body: dict[str, Any], kind: str) -> str:
        """Default content, with the realistic judge/answers when switched on."""
        prompt, schema = _last_user(body), schema_of_request(body)
        passage = realism.tagged(prompt).get("passage")
        with self._lock:
            if passage and passage not in self.passages:
                self.passages.append(passage)
            seen = list(self.passages)
        if fakellm_tree.is_tree_request(prompt):
            return json.dumps(fakellm_tree.tree_reply(prompt), ensure_ascii=False)
        if self.judge == "evidence" and realism.is_judge_request(prompt):
            return json.dumps(realism.evidence_verdict(prompt), ensure_ascii=False)
        if not (schema and realism.is_answer_request(prompt)):
            return default_content(body)
        if kind in realism.ANSWER_FAULTS:
            answer = realism.faulty_answer(kind, prompt, seen)
        elif self.answers == "grounded":
            answer = realism.grounded_answer(prompt)
        else:
            return default_content(body)
        value = json.loads(default_content(body))
        value["answer"] = answer
        # Quotes follow the answer: a grounded one cites what it says, an invented one quotes
        # words the passage lacks (the citation check then removes them).
        value = cite_answer(value, schema)
        return json.dumps(value, ensure_ascii=False)


_HTML_502 = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
             b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
             b"</body>\r\n</html>\r\n")
# Faults decided before any content exists: what a proxy or a dying connection returns.
_TRANSPORT_FAULTS: dict[str, tuple[int, dict[str, str], dict | Raw]] = {
    "error_body": (200, {}, {"error": {"message": "The model is overloaded, try again later",
                                       "type": "server_error", "code": 503}}),
    "html_502": (502, {}, Raw(_HTML_502, "text/html")),
    "reset": (200, {}, Raw(b'{"id": "chatcmpl-cut", "object": "chat.completion", "choices": [',
                           reset=True)),
}


def _apply_content_fault(kind: str, reply: dict[str, Any], body: dict[str, Any]) -> None:
    """Rewrite a good reply in place into the faulty one ``kind`` asks for."""
    content = reply["content"]
    value, schema = realism.json_or_none(content), schema_of_request(body) or {}
    if kind in realism.SCHEMA_FAULTS and isinstance(value, dict):
        reply["content"] = json.dumps(realism.break_schema(kind, value, schema), ensure_ascii=False)
    elif kind == "json_in_prose":
        reply["content"] = realism.in_prose(content)
    elif kind == "repetition":
        max_tokens = int(body.get("max_tokens") or 256)
        reply["content"], reply["finish_reason"] = realism.repetition(content, max_tokens), "length"
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

        def _send(self, status: int, payload: dict | Raw,
                  headers: dict[str, str] | None = None) -> None:
            raw = payload if isinstance(payload, Raw) else Raw(
                json.dumps(payload, ensure_ascii=False).encode("utf-8"))
            # A reset announces the whole body, sends a third of it, then aborts the socket.
            length = len(raw.data) * (3 if raw.reset else 1)
            try:
                self.send_response(status)
                for key, value in {"Content-Type": raw.content_type, **(headers or {})}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(raw.data)
                if raw.reset:
                    self.wfile.flush()
                    # SO_LINGER 0: close() sends RST instead of FIN, as a crashed proxy does.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.close_connection = True
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
