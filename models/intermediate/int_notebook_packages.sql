with

python_notebooks as (
    select * from {{ ref('int_python_notebooks') }}
),

imports as (
    select * from {{ ref('stg_ingest__imports') }}
),

package_imports as (
    {# Relative imports have no package and name no third-party code. #}
    select
        notebook_id,
        package,
        count(*) as import_statements,
        bool_and(is_guarded) as is_only_guarded,
    from imports
    where package is not null
    group by notebook_id, package
),

final as (
    select
        python_notebooks.file_id,
        python_notebooks.notebook_id,
        package_imports.package,
        package_imports.import_statements,
        package_imports.is_only_guarded,
    from python_notebooks
    inner join package_imports
        on python_notebooks.notebook_id = package_imports.notebook_id
)

select * from final
