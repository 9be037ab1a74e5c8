with

python_notebooks as (
    select * from {{ ref('int_python_notebooks') }}
),

notebook_families as (
    select * from {{ ref('int_notebook_families') }}
),

package_families as (
    select * from {{ ref('package_families') }}
),

families as (
    select distinct family
    from package_families
),

dated_notebooks as (
    select
        file_id,
        trend_month,
    from python_notebooks
    where trend_month is not null
),

month_bounds as (
    select
        min(trend_month)::timestamp as first_month,
        max(trend_month)::timestamp as last_month,
    from dated_notebooks
),

month_spine as (
    {# Every calendar month from the first to the last month that has a dated notebook. #}
    select
        cast(unnest(generate_series(first_month, last_month, interval 1 month)) as date) as month,
    from month_bounds
    where first_month is not null
),

python_per_month as (
    select
        trend_month as month,
        count(*) as python_notebooks,
    from dated_notebooks
    group by trend_month
),

importing_per_month as (
    select
        notebook_families.family,
        dated_notebooks.trend_month as month,
        count(*) as notebooks,
    from notebook_families
    inner join dated_notebooks
        on notebook_families.file_id = dated_notebooks.file_id
    group by notebook_families.family, dated_notebooks.trend_month
),

filled as (
    select
        families.family,
        month_spine.month,
        coalesce(python_per_month.python_notebooks, 0) as python_notebooks,
        coalesce(importing_per_month.notebooks, 0) as notebooks,
    from families
    cross join month_spine
    left join python_per_month
        on month_spine.month = python_per_month.month
    left join importing_per_month
        on families.family = importing_per_month.family
        and month_spine.month = importing_per_month.month
),

accumulated as (
    select
        *,
        sum(notebooks) over family_to_date as cumulative_notebooks,
        sum(python_notebooks) over family_to_date as cumulative_python_notebooks,
    from filled
    window family_to_date as (
        partition by family
        order by month
        rows between unbounded preceding and current row
    )
),

final as (
    select
        family,
        month,
        python_notebooks,
        notebooks,
        {{ share('notebooks', 'python_notebooks') }} as share,
        cast(cumulative_notebooks as bigint) as cumulative_notebooks,
        cast(cumulative_python_notebooks as bigint) as cumulative_python_notebooks,
        {{ share('cumulative_notebooks', 'cumulative_python_notebooks') }} as cumulative_share,
    from accumulated
)

select * from final
