{#
    Fails for every row whose value lies outside [min_value, max_value].
    Nulls pass; pair with not_null where a value is required.
#}
{% test value_between(model, column_name, min_value, max_value) %}

with

model_rows as (
    select * from {{ model }}
),

out_of_range as (
    select *
    from model_rows
    where {{ column_name }} < {{ min_value }}
        or {{ column_name }} > {{ max_value }}
)

select * from out_of_range

{% endtest %}
