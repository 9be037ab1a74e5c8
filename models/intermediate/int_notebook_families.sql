with

notebook_packages as (
    select * from {{ ref('int_notebook_packages') }}
),

package_families as (
    select * from {{ ref('package_families') }}
),

families_imported as (
    select
        notebook_packages.file_id,
        notebook_packages.notebook_id,
        package_families.family,
        count(distinct notebook_packages.package) as packages_imported,
    from notebook_packages
    inner join package_families
        on notebook_packages.package = package_families.package
    group by
        notebook_packages.file_id,
        notebook_packages.notebook_id,
        package_families.family
),

final as (
    select * from families_imported
)

select * from final
