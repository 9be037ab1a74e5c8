{#
    Ratio metrics shared by the marts. The definitions in words live in the
    doc blocks of models/marts/_marts__docs.md; these macros are the only place
    the arithmetic is written.
#}

{#
    Decimal places kept for every ratio in the marts. Rounding makes the
    values exact decimals, so dbt unit tests can compare them with literals,
    and ten places keep eight significant digits of a share of 0.001.
#}
{% macro metric_scale() -%}
    10
{%- endmacro %}

{% macro round_metric(expression) -%}
    round({{ expression }}, {{ metric_scale() }})
{%- endmacro %}

{# numerator / denominator as a double, null when the denominator is 0. #}
{% macro share(numerator, denominator) -%}
    {{ round_metric(
        'case when ' ~ denominator ~ ' > 0 then (' ~ numerator ~ ')::double / (' ~ denominator ~ ') end'
    ) }}
{%- endmacro %}

{#
    One bound of the Wilson score interval for a binomial proportion
    (Wilson 1927): successes out of trials, z = 1.96 for 95 %.

        centre = (p + z^2 / 2n) / (1 + z^2 / n)
        margin = z * sqrt(p (1 - p) / n + z^2 / 4n^2) / (1 + z^2 / n)

    bound is 'low' (centre - margin) or 'high' (centre + margin). The result
    is clamped to [0, 1] against rounding error and is null when trials = 0.
#}
{% macro wilson_bound(successes, trials, bound, z=1.96) -%}
    {%- if bound not in ('low', 'high') -%}
        {{ exceptions.raise_compiler_error("wilson_bound: bound must be 'low' or 'high', got '" ~ bound ~ "'") }}
    {%- endif -%}
    {%- set z_squared = z * z -%}
    {%- set n = '(' ~ trials ~ ')::double' -%}
    {%- set p = '((' ~ successes ~ ')::double / ' ~ n ~ ')' -%}
    {%- set sign = '-' if bound == 'low' else '+' -%}
    {%- set bound_expression -%}
        case when {{ trials }} > 0 then
            greatest(0.0, least(1.0,
                (
                    {{ p }} + {{ z_squared }} / (2.0 * {{ n }})
                    {{ sign }} {{ z }} * sqrt({{ p }} * (1.0 - {{ p }}) / {{ n }} + {{ z_squared }} / (4.0 * {{ n }} * {{ n }}))
                ) / (1.0 + {{ z_squared }} / {{ n }})
            ))
        end
    {%- endset -%}
    {{ round_metric(bound_expression) }}
{%- endmacro %}

{#
    Pearson correlation of two 0/1 indicators (the phi coefficient) from the
    four cells of their 2x2 table. Null when either indicator is constant,
    because the correlation is then undefined.
#}
{% macro phi_coefficient(both, only_a, only_b, neither) -%}
    {%- set n_a = '(' ~ both ~ ' + ' ~ only_a ~ ')::double' -%}
    {%- set n_b = '(' ~ both ~ ' + ' ~ only_b ~ ')::double' -%}
    {%- set not_a = '(' ~ only_b ~ ' + ' ~ neither ~ ')::double' -%}
    {%- set not_b = '(' ~ only_a ~ ' + ' ~ neither ~ ')::double' -%}
    {%- set phi_expression -%}
        case when {{ n_a }} * {{ n_b }} * {{ not_a }} * {{ not_b }} > 0 then
            greatest(-1.0, least(1.0,
                (({{ both }})::double * ({{ neither }}) - ({{ only_a }})::double * ({{ only_b }}))
                / sqrt({{ n_a }} * {{ n_b }} * {{ not_a }} * {{ not_b }})
            ))
        end
    {%- endset -%}
    {{ round_metric(phi_expression) }}
{%- endmacro %}
