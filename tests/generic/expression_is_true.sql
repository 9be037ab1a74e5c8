{#
    Fails for every row where the boolean SQL expression is false. Rows where
    it is null pass, as in a SQL check constraint.
#}
{% test expression_is_true(model, expression) %}

with

model_rows as (
    select * from {{ model }}
),

violations as (
    select *
    from model_rows
    where not ({{ expression }})
)

select * from violations

{% endtest %}
