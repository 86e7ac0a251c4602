#!/usr/bin/env bash
# Download book datasets into ${GDL_DATA_DIR:-./data}, as the book's scripts/download.sh:
#   bash data_scripts/download.sh faces|bricks|recipes|flowers|wines|cellosuites|chorales|all
# Same as `gdl data download NAME` (see data_scripts/download.py --help).
set -euo pipefail
exec "${PYTHON:-python}" "$(dirname "$0")/download.py" "$@"
