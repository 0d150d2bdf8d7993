"""A tiny corpus for the promise tests: one small PDF whose sections are whole chunks, each with a
word no other section has, so a scripted fault can target exactly one chunk and what comes of it."""

from __future__ import annotations

from pathlib import Path

from sftforge.demo_corpus import render_markdown_pdf

# marker word -> section body (each ~60-90 tokens: one chunk, one question per chunk)
SECTIONS = {
    "Clickjacking": (
        "Clickjacking loads a target site in an invisible frame and tricks the user into "
        "clicking a button they cannot see. The frame-ancestors directive of the Content "
        "Security Policy forbids framing by other origins, and the older X-Frame-Options "
        "header does the same for legacy browsers that ignore the policy."),
    "Traversal": (
        "Path traversal uses segments such as dot dot slash to read files outside the web "
        "root. The defense normalises the requested path first, then checks that the result "
        "still lies under the allowed directory, and serves only file names from an allow-list "
        "kept by the application."),
    "Deserialization": (
        "Unsafe deserialization turns attacker bytes into live objects whose constructors run "
        "code on the server. Formats that carry only data, such as JSON with a fixed schema, "
        "avoid the problem, and signing serialized blobs stops tampering when a binary format "
        "cannot be replaced."),
    "Redirects": (
        "Open redirects send users from a trusted domain to any address named in a request "
        "parameter, which phishing campaigns exploit. Applications should map redirect targets "
        "to fixed identifiers, or compare the destination host with a short list of allowed "
        "hosts before issuing the redirect."),
}


def tiny_pdf(path: Path, sections: tuple[str, ...] = tuple(SECTIONS)) -> Path:
    """Write a PDF with one ``## marker`` section per name in ``sections``; returns ``path``."""
    body = "\n\n".join(f"## {name}\n\n{SECTIONS[name]}" for name in sections)
    return render_markdown_pdf(f"# Web Defense Notes\n\n{body}\n", path, title="Notes")


def tiny_corpus(root: Path, sections: tuple[str, ...] = tuple(SECTIONS)) -> Path:
    """A folder ``root/corpus`` holding ``notes.pdf`` (see :func:`tiny_pdf`); returns the folder."""
    corpus = root / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    tiny_pdf(corpus / "notes.pdf", sections)
    return corpus

