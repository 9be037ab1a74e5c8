{#
    Use the configured schema name as it is, so that the layers land in
    `staging`, `intermediate`, `marts` and `seeds` and a DuckDB shell user
    types `marts.package_share`. dbt's default would prefix the target schema
    (`main_marts`). A node without a custom schema goes to the target schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
