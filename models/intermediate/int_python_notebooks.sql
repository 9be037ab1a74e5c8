{#
    The denominator of every share: the Python notebooks the marts count.
    With count_duplicates false, files with identical bytes count once and the
    copy with the earliest trend date stands for them (ties: smallest file_id).
#}

with

notebooks as (
    select * from {{ ref('stg_ingest__notebooks') }}
),

python_files as (
    {# The columns of the model, chosen here because the window sort carries every column it is given. #}
    select
        file_id,
        notebook_id,
        repo,
        path,
        archive,
        member,
        html_url,
        language,
        kernel_name,
        cell_count,
        code_cell_count,
        first_commit_at,
        last_commit_at,
        repo_last_commit_at,
        date_origin,
        {{ trend_date_column() }} as trend_at,
    from notebooks
    where is_python
),

copies_ranked as (
    select
        *,
        count(*) over (partition by notebook_id) as copies,
        row_number() over (
            partition by notebook_id
            order by trend_at asc nulls last, file_id
        ) as copy_rank,
    from python_files
),

counted as (
    select *
    from copies_ranked
    {% if not count_duplicates() %}
    where copy_rank = 1
    {% endif %}
),

final as (
    select
        * exclude (copies, copy_rank),
        date_trunc('month', trend_at)::date as trend_month,
        copies,
        copy_rank = 1 as is_first_copy,
    from counted
)

select * from final
