{#
    A member is the first name after the package: `boto3.client(...)` uses
    member `client`; `from boto import regioninfo` and `import boto.regioninfo`
    both import member `regioninfo`; `import boto` and star imports name none.
#}

with

python_notebooks as (
    select * from {{ ref('int_python_notebooks') }}
),

imports as (
    select * from {{ ref('stg_ingest__imports') }}
),

uses as (
    select * from {{ ref('stg_ingest__uses') }}
),

import_members as (
    select
        notebook_id,
        package,
        case
            when contains(module, '.') then split_part(module, '.', 2)
            when import_kind = 'from' and imported_name <> '*' then imported_name
        end as member,
    from imports
    where package is not null
),

member_rows as (
    {#
        Method rows describe calls on objects, not names of the package, so
        only references count. A client factory that the ingester normalised
        to boto3.client (via is set) was written as another name; that name
        has its own reference row (boto3.Session, botocore.session.get_session),
        which is the one counted. Uses and imports are stacked and counted in
        one aggregation, which is cheaper than aggregating each and joining.
    #}
    select
        notebook_id,
        package,
        member,
        true as is_use,
    from uses
    where use_kind = 'reference'
        and via is null
        and package is not null
        and member is not null

    union all

    select
        notebook_id,
        package,
        member,
        false as is_use,
    from import_members
    where member is not null
),

members_per_content as (
    select
        notebook_id,
        package,
        member,
        count(*) filter (where is_use) as uses,
        count(*) filter (where not is_use) as imports,
    from member_rows
    group by notebook_id, package, member
),

final as (
    select
        python_notebooks.file_id,
        python_notebooks.notebook_id,
        members_per_content.package,
        members_per_content.member,
        members_per_content.uses,
        members_per_content.imports,
    from python_notebooks
    inner join members_per_content
        on python_notebooks.notebook_id = members_per_content.notebook_id
)

select * from final
