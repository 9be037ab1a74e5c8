{#
    Ordered pairs: (a, b) and (b, a) are both present, so filtering on
    family_a lists every partner of a family. The 2x2 table of a pair is built
    from three counts (both, notebooks_a, notebooks_b) and the denominator, so
    notebooks that import neither family need no rows of their own.
#}

with

python_notebooks as (
    select * from {{ ref('int_python_notebooks') }}
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

families as (
    select distinct family
    from package_families
),

family_pairs as (
    select
        first_family.family as family_a,
        second_family.family as family_b,
    from families as first_family
    cross join families as second_family
    where first_family.family <> second_family.family
),

shared_packages as (
    select
        first_member.family as family_a,
        second_member.family as family_b,
        count(*) as shared_packages,
    from package_families as first_member
    inner join package_families as second_member
        on first_member.package = second_member.package
        and first_member.family <> second_member.family
    group by first_member.family, second_member.family
),

family_totals as (
    select
        families.family,
        count(notebook_families.file_id) as notebooks,
    from families
    left join notebook_families
        on families.family = notebook_families.family
    group by families.family
),

pair_overlaps as (
    select
        first_import.family as family_a,
        second_import.family as family_b,
        count(*) as both_notebooks,
    from notebook_families as first_import
    inner join notebook_families as second_import
        on first_import.file_id = second_import.file_id
        and first_import.family <> second_import.family
    group by first_import.family, second_import.family
),

contingency as (
    select
        family_pairs.family_a,
        family_pairs.family_b,
        denominator.python_notebooks,
        totals_a.notebooks as notebooks_a,
        totals_b.notebooks as notebooks_b,
        coalesce(pair_overlaps.both_notebooks, 0) as both_notebooks,
        totals_a.notebooks - coalesce(pair_overlaps.both_notebooks, 0) as only_a,
        totals_b.notebooks - coalesce(pair_overlaps.both_notebooks, 0) as only_b,
        denominator.python_notebooks - totals_a.notebooks - totals_b.notebooks
            + coalesce(pair_overlaps.both_notebooks, 0) as neither,
        coalesce(shared_packages.shared_packages, 0) > 0 as has_shared_packages,
    from family_pairs
    cross join denominator
    inner join family_totals as totals_a
        on family_pairs.family_a = totals_a.family
    inner join family_totals as totals_b
        on family_pairs.family_b = totals_b.family
    left join pair_overlaps
        on family_pairs.family_a = pair_overlaps.family_a
        and family_pairs.family_b = pair_overlaps.family_b
    left join shared_packages
        on family_pairs.family_a = shared_packages.family_a
        and family_pairs.family_b = shared_packages.family_b
),

measured as (
    select
        *,
        {{ phi_coefficient('both_notebooks', 'only_a', 'only_b', 'neither') }} as phi,
        {{ share('both_notebooks', 'notebooks_b') }} as p_a_given_b,
        {{ share('both_notebooks', 'notebooks_a') }} as p_b_given_a,
        {{ share('both_notebooks::double * python_notebooks', 'notebooks_a::double * notebooks_b') }} as lift,
    from contingency
),

final as (
    select
        family_a,
        family_b,
        python_notebooks,
        notebooks_a,
        notebooks_b,
        {# BOTH is a reserved word in DuckDB, so the column name must be quoted wherever it is used. #}
        both_notebooks as "both",
        only_a,
        only_b,
        neither,
        phi,
        p_a_given_b,
        p_b_given_a,
        lift,
        has_shared_packages,
    from measured
)

select * from final
