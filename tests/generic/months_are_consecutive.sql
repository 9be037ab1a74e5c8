{#
    Fails for every group whose months are not one row per calendar month
    from its first month to its last, with no gap and no repeat. column_name
    holds the first day of each month; group_by lists the columns of a group.
#}
{% test months_are_consecutive(model, column_name, group_by) %}

with

model_rows as (
    select * from {{ model }}
),

month_ranges as (
    select
        {{ group_by | join(',\n        ') }},
        count(*) as month_rows,
        count(distinct {{ column_name }}) as distinct_months,
        date_diff('month', min({{ column_name }}), max({{ column_name }})) + 1 as months_in_range,
    from model_rows
    group by {{ group_by | join(', ') }}
),

broken_ranges as (
    select *
    from month_ranges
    where month_rows <> months_in_range
        or distinct_months <> months_in_range
)

select * from broken_ranges

{% endtest %}
