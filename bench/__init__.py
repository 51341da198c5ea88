"""The carework benchmark: the service against a hand-written floor, under ``wrk``.

Run ``python -m bench`` (full) or ``python -m bench --smoke`` (CI); see bench/README.md.
"""
