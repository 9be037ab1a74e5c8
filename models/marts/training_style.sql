with

python_notebooks as (
    select * from {{ ref('int_python_notebooks') }}
),

notebook_families as (
    select * from {{ ref('int_notebook_families') }}
),

client_calls as (
    select * from {{ ref('int_boto_client_calls') }}
),

training_calls as (
    select * from {{ ref('int_training_calls') }}
),

sagemaker_client_contents as (
    select distinct notebook_id
    from client_calls
    where call_kind = 'factory'
        and api = 'client'
        and service = 'sagemaker'
),

training_per_content as (
    select
        notebook_id,
        bool_or(training_call = 'create_training_job') as calls_create_training_job,
        bool_or(training_call = 'fit') as calls_fit,
        bool_or(fit_receiver = 'sagemaker_estimator') as calls_sagemaker_fit,
        bool_or(fit_receiver = 'other') as calls_other_fit,
    from training_calls
    group by notebook_id
),

population_members as (
    {# One row per population and counted notebook in it. #}
    select 'python' as population, file_id, notebook_id
    from python_notebooks

    union all

    select 'sagemaker' as population, file_id, notebook_id
    from notebook_families
    where family = 'sagemaker'

    union all

    select 'boto' as population, file_id, notebook_id
    from notebook_families
    where family = 'boto'

    union all

    select 'boto_sagemaker_client' as population, python_notebooks.file_id, python_notebooks.notebook_id
    from python_notebooks
    inner join sagemaker_client_contents
        on python_notebooks.notebook_id = sagemaker_client_contents.notebook_id
),

population_flags as (
    select
        population_members.population,
        population_members.file_id,
        coalesce(training_per_content.calls_create_training_job, false) as calls_create_training_job,
        coalesce(training_per_content.calls_fit, false) as calls_fit,
        coalesce(training_per_content.calls_sagemaker_fit, false) as calls_sagemaker_fit,
        coalesce(training_per_content.calls_other_fit, false) as calls_other_fit,
    from population_members
    left join training_per_content
        on population_members.notebook_id = training_per_content.notebook_id
),

populations as (
    {# Every population gets a row, with 0 notebooks when it is empty. #}
    select population
    from (values ('python'), ('sagemaker'), ('boto'), ('boto_sagemaker_client')) as names(population)
),

population_counts as (
    select
        populations.population,
        count(population_flags.file_id) as notebooks,
        count(*) filter (where population_flags.calls_create_training_job) as create_training_job_notebooks,
        count(*) filter (where population_flags.calls_fit) as fit_notebooks,
        count(*) filter (
            where population_flags.calls_create_training_job and population_flags.calls_fit
        ) as both_notebooks,
        count(*) filter (where population_flags.calls_sagemaker_fit) as sagemaker_fit_notebooks,
        count(*) filter (where population_flags.calls_other_fit) as other_fit_notebooks,
    from populations
    left join population_flags
        on populations.population = population_flags.population
    group by populations.population
),

final as (
    select
        population,
        notebooks,
        create_training_job_notebooks,
        fit_notebooks,
        both_notebooks,
        {{ share('create_training_job_notebooks', 'notebooks') }} as create_training_job_share,
        {{ share('fit_notebooks', 'notebooks') }} as fit_share,
        {{ share('both_notebooks', 'notebooks') }} as both_share,
        {{ wilson_bound('create_training_job_notebooks', 'notebooks', 'low') }} as create_training_job_share_ci_low,
        {{ wilson_bound('create_training_job_notebooks', 'notebooks', 'high') }} as create_training_job_share_ci_high,
        {{ wilson_bound('fit_notebooks', 'notebooks', 'low') }} as fit_share_ci_low,
        {{ wilson_bound('fit_notebooks', 'notebooks', 'high') }} as fit_share_ci_high,
        sagemaker_fit_notebooks,
        other_fit_notebooks,
        {{ share('sagemaker_fit_notebooks', 'notebooks') }} as sagemaker_fit_share,
        {{ share('other_fit_notebooks', 'notebooks') }} as other_fit_share,
    from population_counts
)

select * from final
