"""One-time setup of a Prefect server for sftforge: concurrency limits and the API-key Secret.

    PREFECT_API_URL=http://127.0.0.1:4200/api python infra/bootstrap.py --llm-slots 4

- global concurrency limit ``tag:sftforge-llm``: how many LLM stage task runs (tagged
  ``sftforge-llm`` by ``sftforge.stage``) may run at once across every build on the server;
- Secret block ``SFTFORGE_API_KEY_BLOCK`` (default ``sftforge-llm-api-key``) holding the LLM API
  key, read from ``SFTFORGE_LLM_API_KEY`` or asked for (never an argument: shells keep history).
  Builds read it when ``SFTFORGE_API_KEY_BLOCK`` names it (``sftforge.llm.endpoints.api_key``).

Re-running updates both. The work pool and its limit (one build at a time) are in worker.sh.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sftforge.stage import LLM_TAG  # noqa: E402

DEFAULT_BLOCK = "sftforge-llm-api-key"


def ensure_llm_limit(slots: int) -> str:
    """Create or update the global concurrency limit of LLM stage task runs; returns its name."""
    from prefect import get_client

    name = f"tag:{LLM_TAG}"
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(name, slots)
    return name


def store_api_key(block: str, key: str) -> None:
    """Save ``key`` as the Prefect Secret block ``block`` (overwriting an older key)."""
    from prefect.blocks.system import Secret

    if not key.strip():
        raise SystemExit("empty API key: set SFTFORGE_LLM_API_KEY or type it when asked")
    Secret(value=key.strip()).save(block, overwrite=True)


def main(argv: list[str]) -> None:
    """Parse ``argv`` and set the server up."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--llm-slots", type=int, default=4,
                        help="LLM stage task runs at once across all builds")
    parser.add_argument("--no-key", action="store_true", help="skip the API-key Secret")
    args = parser.parse_args(argv)
    print(f"concurrency limit {ensure_llm_limit(args.llm_slots)} = {args.llm_slots}")
    if not args.no_key:
        block = os.environ.get("SFTFORGE_API_KEY_BLOCK", DEFAULT_BLOCK)
        key = os.environ.get("SFTFORGE_LLM_API_KEY") or getpass.getpass("LLM API key: ")
        store_api_key(block, key)
        print(f"Secret block {block!r} saved; set SFTFORGE_API_KEY_BLOCK={block} for builds")


if __name__ == "__main__":
    main(sys.argv[1:])
