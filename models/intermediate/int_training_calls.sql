{#
    Training calls are recognised by the name of the called method, so a
    call on a receiver the ingester could not resolve (`*.fit`) still counts.
    The method name is the `method` column of method rows, else the last
    name of the callee (`sagemaker.estimator.Estimator.fit`).
#}

with

uses as (
    select * from {{ ref('stg_ingest__uses') }}
),

calls_named as (
    select
        *,
        coalesce(
            method,
            nullif(regexp_extract(callee, '\.([A-Za-z_][A-Za-z0-9_]*)$', 1), '')
        ) as called_method,
        {# The package that made the receiver: the first name of receiver_origin on method rows. #}
        coalesce(nullif(split_part(receiver_origin, '.', 1), ''), package) as receiver_package,
    from uses
    where is_call
        {#
            The same test as on called_method below, written without the regex
            so that most call rows are dropped before it runs: regexp_extract
            on every call took most of this model's time.
        #}
        and (
            method in ('create_training_job', 'fit', 'fit_generator')
            or (
                method is null
                and (
                    suffix(callee, '.create_training_job')
                    or suffix(callee, '.fit')
                    or suffix(callee, '.fit_generator')
                )
            )
        )
),

training_calls as (
    select
        notebook_id,
        cell_index,
        line,
        use_kind,
        callee,
        called_method,
        receiver_origin,
        receiver_package,
        case
            when called_method = 'create_training_job' then 'create_training_job'
            else 'fit'
        end as training_call,
        case
            when called_method = 'create_training_job' then null
            when receiver_package = 'sagemaker' then 'sagemaker_estimator'
            else 'other'
        end as fit_receiver,
    from calls_named
    where called_method in ('create_training_job', 'fit', 'fit_generator')
),

final as (
    select * from training_calls
)

select * from final
