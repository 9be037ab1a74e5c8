{#
    Determinant-ratio test of whether mxnet use is independent of sagemaker
    and boto use, from the phi coefficients in package_cooccurrence.

    R3 is the 3x3 correlation matrix of the sagemaker, boto and mxnet
    indicators over Python notebooks, R2 the 2x2 matrix of sagemaker and boto:

        det(R3) = 1 + 2 r_sb r_sm r_bm - r_sb^2 - r_sm^2 - r_bm^2
        det(R2) = 1 - r_sb^2

    det(R3) / det(R2) = 1 - R^2, where R^2 is the squared multiple
    correlation of mxnet on sagemaker and boto: a ratio near 1 means the other
    two explain almost none of mxnet's variance, so mxnet is nearly
    independent of them. Compile with `dbt compile --select mxnet_independence`
    and run the SQL in target/compiled/ against the warehouse.
#}

with

cooccurrence as (
    select * from {{ ref('package_cooccurrence') }}
),

correlations as (
    select
        max(phi) filter (where family_a = 'sagemaker' and family_b = 'boto') as r_sagemaker_boto,
        max(phi) filter (where family_a = 'sagemaker' and family_b = 'mxnet') as r_sagemaker_mxnet,
        max(phi) filter (where family_a = 'boto' and family_b = 'mxnet') as r_boto_mxnet,
    from cooccurrence
),

determinants as (
    select
        *,
        1
            + 2 * r_sagemaker_boto * r_sagemaker_mxnet * r_boto_mxnet
            - r_sagemaker_boto * r_sagemaker_boto
            - r_sagemaker_mxnet * r_sagemaker_mxnet
            - r_boto_mxnet * r_boto_mxnet
            as determinant_3x3,
        1 - r_sagemaker_boto * r_sagemaker_boto as determinant_2x2,
    from correlations
),

final as (
    select
        r_sagemaker_boto,
        r_sagemaker_mxnet,
        r_boto_mxnet,
        determinant_3x3,
        determinant_2x2,
        case when determinant_2x2 > 0 then determinant_3x3 / determinant_2x2 end as determinant_ratio,
        case when determinant_2x2 > 0 then 1 - determinant_3x3 / determinant_2x2 end as mxnet_r_squared,
    from determinants
)

select * from final
