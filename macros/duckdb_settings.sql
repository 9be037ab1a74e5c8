{#
    DuckDB settings for the whole dbt run, applied in on-run-start. They are
    global to the DuckDB instance that dbt opens, so they cover every model
    and test.
    - NBCENSUS_MEMORY_LIMIT (a DuckDB size such as 6GB or 512MiB) caps
      DuckDB's buffer manager, which may otherwise take up to 80 % of the
      machine's memory, so that large builds spill to disk instead;
    - preserve_insertion_order is off because the models are tables whose row
      order means nothing, and keeping it costs memory on large builds.
#}

{% macro configure_duckdb() -%}
    {%- set limit = env_var('NBCENSUS_MEMORY_LIMIT', '') | trim -%}
    {%- if limit -%}
        set memory_limit = '{{ limit | replace("'", "''") }}';
    {%- endif -%}
    set preserve_insertion_order = false
{%- endmacro %}
