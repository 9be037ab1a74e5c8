with

notebook_members as (
    select * from {{ ref('int_notebook_members') }}
),

notebook_packages as (
    select * from {{ ref('int_notebook_packages') }}
),

package_notebooks as (
    select
        package,
        count(*) as package_notebooks,
    from notebook_packages
    group by package
),

member_totals as (
    select
        package,
        member,
        sum(uses) as uses,
        sum(imports) as imports,
        count(*) as notebooks,
        count(*) filter (where uses > 0) as use_notebooks,
        count(*) filter (where imports > 0) as import_notebooks,
    from notebook_members
    group by package, member
),

ranked as (
    select
        member_totals.package,
        member_totals.member,
        cast(member_totals.uses as bigint) as uses,
        cast(member_totals.imports as bigint) as imports,
        member_totals.notebooks,
        member_totals.use_notebooks,
        member_totals.import_notebooks,
        coalesce(package_notebooks.package_notebooks, 0) as package_notebooks,
        {{ share('member_totals.notebooks', 'package_notebooks.package_notebooks') }} as package_notebook_share,
        row_number() over (
            partition by member_totals.package
            order by member_totals.notebooks desc, member_totals.uses desc, member_totals.member
        ) as rank_in_package,
    from member_totals
    left join package_notebooks
        on member_totals.package = package_notebooks.package
),

final as (
    select * from ranked
)

select * from final
