"""Speed and quality measurements (``python -m benchmarks [NAME ...]``); not run by CI."""
