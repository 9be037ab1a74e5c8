{#
    A long table: each section counts one kind of thing, and share is the
    part of that section's total, so every section's shares sum to 1.
#}

with

outcomes as (
    select * from {{ ref('stg_ingest__outcomes') }}
),

notebooks as (
    select * from {{ ref('stg_ingest__notebooks') }}
),

cells as (
    select * from {{ ref('stg_ingest__cells') }}
),

python_notebooks as (
    select * from {{ ref('int_python_notebooks') }}
),

files_by_outcome as (
    select
        'input_files' as section,
        outcome as item,
        coalesce(reason, '(none)') as detail,
        count(*) as value,
    from outcomes
    group by outcome, coalesce(reason, '(none)')
),

files_by_language as (
    select
        'notebook_files' as section,
        case when is_python then 'python' else 'other_language' end as item,
        coalesce(language, '(none)') as detail,
        count(*) as value,
    from notebooks
    group by is_python, coalesce(language, '(none)')
),

duplicate_counts as (
    select
        count(*) as python_files,
        count(distinct notebook_id) as distinct_python_notebooks,
    from notebooks
    where is_python
),

counted_total as (
    select count(*) as counted_python_notebooks,
    from python_notebooks
),

duplicates as (
    {# Shares of this section are relative to all Python files, not to the section's sum. #}
    select 'duplicates' as section, 'python_files' as item, '(all)' as detail, python_files as value
    from duplicate_counts

    union all

    select 'duplicates', 'distinct_python_notebooks', '(all)', distinct_python_notebooks
    from duplicate_counts

    union all

    select 'duplicates', 'duplicate_python_files', '(all)', python_files - distinct_python_notebooks
    from duplicate_counts

    union all

    select 'duplicates', 'counted_python_notebooks', '{{ "every_file" if count_duplicates() else "distinct_content" }}', counted_python_notebooks
    from counted_total
),

cells_by_status as (
    {# Cells of the counted notebooks, so the coverage matches the marts under either duplicate setting. #}
    select
        'cells' as section,
        cells.status as item,
        cells.cell_type as detail,
        count(*) as value,
    from python_notebooks
    inner join cells
        on python_notebooks.notebook_id = cells.notebook_id
    group by cells.status, cells.cell_type
),

notebooks_by_date_origin as (
    select
        'trend_dates' as section,
        date_origin as item,
        case when trend_at is null then 'undated' else 'dated' end as detail,
        count(*) as value,
    from python_notebooks
    group by date_origin, trend_at is null
),

summed_sections as (
    select * from files_by_outcome
    union all
    select * from files_by_language
    union all
    select * from cells_by_status
    union all
    select * from notebooks_by_date_origin
),

with_shares as (
    select
        section,
        item,
        detail,
        value,
        {{ share('value', 'sum(value) over (partition by section)') }} as share,
    from summed_sections

    union all

    select
        duplicates.section,
        duplicates.item,
        duplicates.detail,
        duplicates.value,
        {{ share('duplicates.value', 'duplicate_counts.python_files') }} as share,
    from duplicates
    cross join duplicate_counts
),

final as (
    select
        section,
        item,
        detail,
        cast(value as bigint) as value,
        share,
    from with_shares
)

select * from final
