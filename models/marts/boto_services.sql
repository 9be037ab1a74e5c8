with

python_notebooks as (
    select * from {{ ref('int_python_notebooks') }}
),

client_calls as (
    select * from {{ ref('int_boto_client_calls') }}
),

counted_calls as (
    select
        python_notebooks.file_id,
        client_calls.call_kind,
        client_calls.api,
        client_calls.service,
    from client_calls
    inner join python_notebooks
        on client_calls.notebook_id = python_notebooks.notebook_id
),

service_totals as (
    select
        api,
        service,
        count(*) filter (where call_kind = 'factory') as uses,
        count(distinct file_id) filter (where call_kind = 'factory') as notebooks,
        count(*) filter (where call_kind = 'method') as method_calls,
        count(distinct file_id) filter (where call_kind = 'method') as method_call_notebooks,
    from counted_calls
    group by api, service
),

final as (
    select * from service_totals
)

select * from final
