with

raw_cells as (
    select * from {{ source('ingest', 'cells') }}
),

renamed as (
    select
        notebook_id,
        cell_index,
        cell_type,
        language,
        origin,
        status,
        error as error_message,
        lines as line_count,
        cache_hit as is_cache_hit,
    from raw_cells
)

select * from renamed
