with

python_notebooks as (
    select * from {{ ref('int_python_notebooks') }}
),

notebook_packages as (
    select * from {{ ref('int_notebook_packages') }}
),

notebook_families as (
    select * from {{ ref('int_notebook_families') }}
),

package_families as (
    select * from {{ ref('package_families') }}
),

denominator as (
    select count(*) as python_notebooks,
    from python_notebooks
),

family_members as (
    select
        family,
        string_agg(package, ', ' order by package) as packages,
    from package_families
    group by family
),

family_counts as (
    {# Every family of the seed gets a row, with 0 notebooks when none imports it. #}
    select
        family_members.family,
        'family' as kind,
        family_members.packages,
        count(distinct notebook_families.file_id) as notebooks,
    from family_members
    left join notebook_families
        on family_members.family = notebook_families.family
    group by family_members.family, family_members.packages
),

tracked_packages as (
    select package from notebook_packages
    union
    select package from package_families
),

package_counts as (
    select
        tracked_packages.package as family,
        'package' as kind,
        tracked_packages.package as packages,
        count(distinct notebook_packages.file_id) as notebooks,
    from tracked_packages
    left join notebook_packages
        on tracked_packages.package = notebook_packages.package
    group by tracked_packages.package
),

all_counts as (
    select * from family_counts
    union all
    select * from package_counts
),

shares as (
    select
        all_counts.family,
        all_counts.kind,
        all_counts.packages,
        denominator.python_notebooks,
        all_counts.notebooks,
        {{ share('all_counts.notebooks', 'denominator.python_notebooks') }} as share,
        {{ wilson_bound('all_counts.notebooks', 'denominator.python_notebooks', 'low') }} as share_ci_low,
        {{ wilson_bound('all_counts.notebooks', 'denominator.python_notebooks', 'high') }} as share_ci_high,
    from all_counts
    cross join denominator
),

final as (
    select * from shares
)

select * from final
