{#
    DuckDB settings for the whole dbt run, applied in on-run-start. They are
    global to the DuckDB instance that dbt opens, so they cover every model
    and test.
    - NBCENSUS_MEMORY_LIMIT (a DuckDB size such as 6GB or 512MiB) caps
      DuckDB's buffer manager, which may otherwise take up to 80 % of the
      machine's memory, so that large builds spill to disk instead. The
      process can still use somewhat more than the limit;
    - preserve_insertion_order is off because the models are tables whose row
      order means nothing, and keeping it costs memory on large builds.
#}

{% macro configure_duckdb() -%}
    {%- set limit = env_var('NBCENSUS_MEMORY_LIMIT', '') | trim -%}
    {%- if limit -%}
        {#- Checked here, because a failing hook does not stop dbt from building every model without the limit. -#}
        {%- if not modules.re.fullmatch('[0-9]+(\.[0-9]+)? *([KMGT]i?B|B)', limit, modules.re.IGNORECASE) -%}
            {{ exceptions.raise_compiler_error(
                "Invalid NBCENSUS_MEMORY_LIMIT '" ~ limit ~ "': use a DuckDB size such as 6GB or 512MiB"
            ) }}
        {%- endif -%}
        set memory_limit = '{{ limit }}';
    {%- endif -%}
    set preserve_insertion_order = false
{%- endmacro %}
