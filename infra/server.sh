#!/usr/bin/env bash
# Local Prefect server on 127.0.0.1 (UI at http://127.0.0.1:4200), telemetry off.
set -euo pipefail
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false
exec prefect server start --host 127.0.0.1 --port "${PREFECT_PORT:-4200}"
