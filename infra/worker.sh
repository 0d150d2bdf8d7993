#!/usr/bin/env bash
# A process worker for the "sftforge" work pool, plus the concurrency limit of the LLM stages.
set -euo pipefail
export DO_NOT_TRACK=1 PREFECT_API_URL="${PREFECT_API_URL:-http://127.0.0.1:4200/api}"
prefect work-pool create sftforge --type process 2>/dev/null || true
# One build at a time: LLM endpoints and the embedded model are shared resources.
prefect work-pool set-concurrency-limit sftforge 1
exec prefect worker start --pool sftforge
