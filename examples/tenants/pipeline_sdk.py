"""The tenants pipeline (pipeline.yml) built with the azure-ai-ml SDK, as Microsoft's SDK samples
build pipelines: components loaded from YAML, the parallel step declared with
``parallel_run_function`` and ``RunFunction``, the pipeline with ``@dsl.pipeline``.

Run it from this folder, as the samples' notebooks run from theirs: the SDK resolves the relative
paths (./components, ./training, ...) against the working directory where the job is built.

    python pipeline_sdk.py                       # submit to Azure ML (needs a workspace config.json)
    tenantml exec -- python pipeline_sdk.py      # the same script, run locally by tenantml
    python pipeline_sdk.py --tenants 10          # fewer tenants

In Python: ``tenantml.run(build_pipeline(tenants=10))``.
"""

import argparse
from azure.ai.ml import Input, MLClient, Output, command, dsl, load_component
from azure.ai.ml.constants import AssetTypes, InputOutputModes
from azure.ai.ml.entities import Environment
from azure.ai.ml.parallel import RunFunction, parallel_run_function
from azure.identity import DefaultAzureCredential, InteractiveBrowserCredential

COMPUTE = "cpu-cluster"
IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"

# the command components, loaded from the same YAML files pipeline.yml uses
generate_component = load_component(source="./components/generate.yml")
data_engineering_component = load_component(source="./components/data_engineering.yml")
evaluation_component = load_component(source="./components/evaluation.yml")
register_component = load_component(source="./components/register.yml")

# the parallel step: one tenant file per run() call
training_component = parallel_run_function(
    name="training",  # the step's name in the pipeline
    display_name="Train, test and save one model per tenant",
    inputs=dict(
        training_data=Input(type=AssetTypes.MLTABLE, description="an MLTable listing one CSV per tenant"),
        model=Input(type="string", default="gbm", description="gbm (gradient boosting) or ridge (linear)"),
        n_estimators=Input(type="integer", default=100),
        max_depth=Input(type="integer", default=3),
    ),
    outputs=dict(
        models=Output(type=AssetTypes.URI_FOLDER),
        predictions=Output(type=AssetTypes.URI_FOLDER),
        ledger=Output(type=AssetTypes.URI_FILE),
    ),
    input_data="${{inputs.training_data}}",
    mini_batch_size="1",
    mini_batch_error_threshold=5,  # up to 5 tenants may fail and the job is still Completed
    logging_level="INFO",
    retry_settings=dict(max_retries=1, timeout=120),
    instance_count=2,
    max_concurrency_per_instance=2,
    environment_variables={"MIN_TRAIN_ROWS": "20"},  # tenants with fewer rows fail
    task=RunFunction(
        code="./training",
        entry_script="training.py",
        environment=Environment(image=IMAGE, conda_file="./training/environment.yml"),
        program_arguments="--model ${{inputs.model}} "
        "--n_estimators ${{inputs.n_estimators}} "
        "--max_depth ${{inputs.max_depth}} "
        "--models ${{outputs.models}} "
        "--predictions ${{outputs.predictions}}",
        append_row_to="${{outputs.ledger}}",
    ),
)

# an inline command step: copy the predictions beside an MLTable that reads them as one table
predictions_mltable_command = command(
    name="predictions_mltable",
    inputs=dict(predictions=Input(type=AssetTypes.URI_FOLDER)),
    outputs=dict(predictions_table=Output(type=AssetTypes.MLTABLE)),
    environment=Environment(image=IMAGE),
    command="cp ${{inputs.predictions}}/*.csv ${{outputs.predictions_table}}/ && "
    "printf 'paths:\\n  - pattern: ./*.csv\\ntransformations:\\n  - read_delimited:\\n      delimiter: \\\",\\\"\\n"
    "      encoding: utf8\\n      header: all_files_same_headers\\n' > ${{outputs.predictions_table}}/MLTable && "
    "echo \"MLTable over $(ls ${{outputs.predictions_table}} | grep -c '\\\\.csv$') prediction files\"",
)


@dsl.pipeline(
    display_name="tenants-per-tenant-training",
    experiment_name="tenants",
    description="Generate a multi-tenant dataset, split it per tenant into the datalake, train one model "
    "per tenant in a parallel job, evaluate every model, and register the tenants' models that beat "
    "their registered version.",
)
def tenants_pipeline(tenants: int = 40, seed: int = 7, model: str = "gbm"):
    generate = generate_component(tenants=tenants, seed=seed)

    data_engineering = data_engineering_component(raw_data=generate.outputs.raw_data)
    # ${{name}} is the run's id: each run writes its own folder in the datalake
    data_engineering.outputs.training_data = Output(
        type=AssetTypes.MLTABLE,
        mode=InputOutputModes.RW_MOUNT,
        path="azureml://datastores/datalake/paths/tenants/training_data/${{name}}",
    )

    training = training_component(training_data=data_engineering.outputs.training_data, model=model)
    training.inputs.training_data.mode = InputOutputModes.RO_MOUNT  # a file MLTable: run() gets file paths
    training.compute = COMPUTE

    predictions_mltable = predictions_mltable_command(predictions=training.outputs.predictions)

    evaluation = evaluation_component(
        predictions=predictions_mltable.outputs.predictions_table,
        models=training.outputs.models,
    )

    register = register_component(
        models=training.outputs.models,
        predictions=training.outputs.predictions,
        metrics=evaluation.outputs.metrics,
    )
    register.outputs.registry = Output(
        type=AssetTypes.URI_FOLDER,
        mode=InputOutputModes.RW_MOUNT,
        path="azureml://datastores/datalake/paths/tenants/registry",
    )


def build_pipeline(tenants: int = 40, seed: int = 7, model: str = "gbm"):
    pipeline_job = tenants_pipeline(tenants=tenants, seed=seed, model=model)
    pipeline_job.settings.default_compute = COMPUTE
    return pipeline_job


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=40)
    parser.add_argument("--model", default="gbm")
    args = parser.parse_args()

    try:
        credential = DefaultAzureCredential()
        # Check if the given credential can get a token successfully.
        credential.get_token("https://management.azure.com/.default")
    except Exception:
        # Fall back to InteractiveBrowserCredential in case DefaultAzureCredential does not work
        credential = InteractiveBrowserCredential()
    ml_client = MLClient.from_config(credential=credential)
    print(ml_client.compute.get(COMPUTE))

    pipeline_job = ml_client.jobs.create_or_update(build_pipeline(tenants=args.tenants, model=args.model),
                                                   experiment_name="tenants")
    print(pipeline_job.name)
    ml_client.jobs.stream(pipeline_job.name)
