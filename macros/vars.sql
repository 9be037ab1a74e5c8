{#
    Checked access to the project variables, so that a typo in --vars fails
    the run with a clear message instead of silently changing a metric.
#}

{% macro trend_date_column() -%}
    {%- set allowed = ['first_commit_at', 'last_commit_at', 'repo_last_commit_at'] -%}
    {%- set column = var('trend_date', 'first_commit_at') | string | trim -%}
    {%- if column not in allowed -%}
        {{ exceptions.raise_compiler_error(
            "Invalid var trend_date '" ~ column ~ "': use one of " ~ allowed | join(', ')
        ) }}
    {%- endif -%}
    {{ column }}
{%- endmacro %}

{#
    True when every file counts, false when files with identical content
    (same notebook_id) count once. Accepts a YAML boolean or the strings
    true/false, as --vars on a command line may pass either.
#}
{% macro count_duplicates() -%}
    {%- set value = var('count_duplicates', false) -%}
    {%- if value is string -%}
        {%- set value = value | trim | lower -%}
        {%- if value not in ('true', 'false') -%}
            {{ exceptions.raise_compiler_error("Invalid var count_duplicates '" ~ value ~ "': use true or false") }}
        {%- endif -%}
        {%- set value = (value == 'true') -%}
    {%- endif -%}
    {{ return(value is sameas true) }}
{%- endmacro %}
