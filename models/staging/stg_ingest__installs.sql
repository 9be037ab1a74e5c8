with

raw_installs as (
    select * from {{ source('ingest', 'installs') }}
),

renamed as (
    select
        notebook_id,
        cell_index,
        line,
        installer,
        package,
        requirement,
    from raw_installs
)

select * from renamed
