"""Plotly reports built from the dbt marts."""
