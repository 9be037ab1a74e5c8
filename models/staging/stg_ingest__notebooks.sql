with

raw_notebooks as (
    select * from {{ source('ingest', 'notebooks') }}
),

renamed as (
    select
        file_id,
        notebook_id,
        source as input_source,
        source_kind,
        path,
        archive,
        member,
        repo,
        html_url,
        {# Naive UTC timestamps, so month boundaries do not depend on the session time zone. #}
        first_commit_at at time zone 'UTC' as first_commit_at,
        last_commit_at at time zone 'UTC' as last_commit_at,
        repo_last_commit_at at time zone 'UTC' as repo_last_commit_at,
        coalesce(date_origin, 'none') as date_origin,
        metadata,
        lower(language) as language,
        language_origin,
        kernel as kernel_name,
        nbformat,
        nbformat_minor,
        cells as cell_count,
        code_cells as code_cell_count,
        size_bytes,
        ingested_at at time zone 'UTC' as ingested_at,
        {# A notebook whose metadata names no language is read as Python, as the ingester does. #}
        coalesce(lower(language), 'python') in ('python', 'python2', 'python3', 'ipython') as is_python,
    from raw_notebooks
)

select * from renamed
