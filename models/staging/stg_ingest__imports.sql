with

raw_imports as (
    select * from {{ source('ingest', 'imports') }}
),

renamed as (
    select
        notebook_id,
        cell_index,
        line,
        origin,
        module,
        package,
        name as imported_name,
        alias,
        kind as import_kind,
        is_guarded,
        scope,
    from raw_imports
)

select * from renamed
