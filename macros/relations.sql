{#
    dbt-duckdb names the database after the warehouse file's stem, and a view
    stores the names it selects from as written. Leaving the database out of
    ref() and source() keeps the staging views working when the warehouse file
    is copied or renamed; DuckDB then resolves the names in the view's own
    database.
#}

{% macro ref() -%}
    {%- set relation = builtins.ref(*varargs, **kwargs) -%}
    {{ return(relation.include(database=false)) }}
{%- endmacro %}

{% macro source() -%}
    {%- set relation = builtins.source(*varargs, **kwargs) -%}
    {{ return(relation.include(database=false)) }}
{%- endmacro %}
