"""nbcensus: measure how Python packages are used in Jupyter notebooks.

The `ingest` package reads notebooks, extracts imports and uses with libcst and
loads them into the `raw` schema of a DuckDB warehouse; the dbt project in the
repository root builds the metrics from there.
"""

__version__ = "0.1.0"
