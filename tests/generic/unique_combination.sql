{#
    Fails for every combination of the listed columns that occurs more than
    once: the compound-key form of dbt's `unique` test.
#}
{% test unique_combination(model, combination_of_columns) %}

with

model_rows as (
    select * from {{ model }}
),

duplicated_keys as (
    select
        {{ combination_of_columns | join(',\n        ') }},
        count(*) as occurrences,
    from model_rows
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
)

select * from duplicated_keys

{% endtest %}
