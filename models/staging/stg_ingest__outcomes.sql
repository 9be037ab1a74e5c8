with

raw_outcomes as (
    select * from {{ source('ingest', 'outcomes') }}
),

renamed as (
    select
        file_id,
        source as input_source,
        source_kind,
        path,
        archive,
        member,
        outcome,
        reason,
        detail,
        notebook_id,
        ingested_at at time zone 'UTC' as ingested_at,
    from raw_outcomes
)

select * from renamed
