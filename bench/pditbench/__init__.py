"""The side-by-side performance benchmark behind ``bench/run.py`` (see docs/performance.md)."""
