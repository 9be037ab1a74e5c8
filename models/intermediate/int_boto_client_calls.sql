{#
    The ingester normalises every way of building a client or resource
    (boto3.Session(...).client, botocore's create_client, the SageMaker SDK's
    boto_session, ...) to `boto3.client` / `boto3.resource` with the service in
    first_arg, so one filter covers every factory.
#}

with

uses as (
    select * from {{ ref('stg_ingest__uses') }}
),

factory_calls as (
    select
        notebook_id,
        cell_index,
        line,
        'factory' as call_kind,
        split_part(qualified_name, '.', 2) as api,
        coalesce(first_arg, '(non-literal)') as service,
        cast(null as varchar) as method,
        via,
    from uses
    where use_kind = 'reference'
        and is_call
        and qualified_name in ('boto3.client', 'boto3.resource')
),

method_calls as (
    {# On method rows qualified_name is the receiver's origin and receiver_arg its service. #}
    select
        notebook_id,
        cell_index,
        line,
        'method' as call_kind,
        split_part(receiver_origin, '.', 2) as api,
        coalesce(receiver_arg, '(non-literal)') as service,
        method,
        via,
    from uses
    where use_kind = 'method'
        and is_call
        and receiver_origin in ('boto3.client', 'boto3.resource')
),

final as (
    select * from factory_calls
    union all
    select * from method_calls
)

select * from final
