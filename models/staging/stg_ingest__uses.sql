with

raw_uses as (
    select * from {{ source('ingest', 'uses') }}
),

renamed as (
    select
        notebook_id,
        cell_index,
        line,
        origin,
        use_kind,
        qualified_name,
        package,
        member,
        is_call,
        first_arg,
        method,
        receiver_origin,
        receiver_arg,
        callee,
        via,
    from raw_uses
)

select * from renamed
