"""The many-models pipeline (pipeline.yml) built with the azure-ai-ml SDK, in the style of
Microsoft's SDK sample "1a_oj_sales_prediction": a command step that writes a tabular MLTable,
and a ``parallel_run_function`` with ``partition_keys`` that trains one model per store x brand.

Run it from this folder, as the samples' notebooks run from theirs: the SDK resolves the relative
paths (./components, ./training, ...) against the working directory where the job is built.

    python pipeline_sdk.py                       # submit to Azure ML (needs a workspace config.json)
    tenantml exec -- python pipeline_sdk.py      # the same script, run locally by tenantml
    python pipeline_sdk.py --stores 3            # fewer stores

In Python: ``tenantml.run(build_pipeline(stores=3))``.
"""

import argparse
from azure.ai.ml import Input, MLClient, Output, command, dsl
from azure.ai.ml.constants import AssetTypes, InputOutputModes
from azure.ai.ml.entities import Environment
from azure.ai.ml.parallel import RunFunction, parallel_run_function
from azure.identity import DefaultAzureCredential, InteractiveBrowserCredential

COMPUTE = "cpu-cluster"
IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"

# Weekly sales of every store and brand, as one tabular MLTable.
prepare_command = command(
    name="prepare",
    code="./prepare",
    environment=Environment(image=IMAGE, conda_file="./prepare/environment.yml"),
    inputs=dict(stores=Input(type="integer"), weeks=Input(type="integer")),
    outputs=dict(sales=Output(type=AssetTypes.MLTABLE)),
    command="python prepare_data.py --stores ${{inputs.stores}} --weeks ${{inputs.weeks}} "
    "--sales ${{outputs.sales}}",
)

# One model per store x brand: partition_keys make every partition one mini-batch.
train_component = parallel_run_function(
    name="train",
    display_name="Train one model per store and brand",
    inputs=dict(
        sales=Input(
            type=AssetTypes.MLTABLE,
            mode=InputOutputModes.DIRECT,  # partition_keys need a tabular MLTable in direct mode
        ),
        target_col=Input(type="string"),
        date_col=Input(type="string"),
    ),
    outputs=dict(
        model_folder=Output(type=AssetTypes.URI_FOLDER, mode=InputOutputModes.RW_MOUNT),
        metrics=Output(type=AssetTypes.URI_FILE, mode=InputOutputModes.RW_MOUNT),
    ),
    input_data="${{inputs.sales}}",
    partition_keys=["store", "brand"],
    instance_count=2,
    max_concurrency_per_instance=2,
    mini_batch_error_threshold=5,
    error_threshold=-1,
    logging_level="INFO",
    retry_settings=dict(max_retries=2, timeout=120),
    task=RunFunction(
        code="./train",
        entry_script="train.py",
        environment=Environment(image=IMAGE, conda_file="./train/environment.yml"),
        program_arguments="--target_col ${{inputs.target_col}} "
        "--date_col ${{inputs.date_col}} "
        "--test_weeks 8 "
        "--model_folder ${{outputs.model_folder}}",
        append_row_to="${{outputs.metrics}}",  # every returned DataFrame, space-separated rows
    ),
)


@dsl.pipeline(
    display_name="many-models-partition-keys",
    experiment_name="many-models",
    description="Weekly sales of every store and brand as one tabular MLTable; a parallel job with "
    "partition_keys [store, brand] trains one model per partition.",
)
def many_models_pipeline(stores: int = 10, weeks: int = 156):
    prepare = prepare_command(stores=stores, weeks=weeks)
    prepare.outputs.sales = Output(
        type=AssetTypes.MLTABLE,
        mode=InputOutputModes.RW_MOUNT,
        path="azureml://datastores/datalake/paths/many-models/sales/${{name}}",
    )

    train = train_component(sales=prepare.outputs.sales, target_col="quantity", date_col="week_starting")
    train.compute = COMPUTE


def build_pipeline(stores: int = 10, weeks: int = 156):
    pipeline_job = many_models_pipeline(stores=stores, weeks=weeks)
    pipeline_job.settings.default_compute = COMPUTE
    return pipeline_job


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--stores", type=int, default=10)
    parser.add_argument("--weeks", type=int, default=156)
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

    pipeline_job = ml_client.jobs.create_or_update(build_pipeline(stores=args.stores, weeks=args.weeks),
                                                   experiment_name="many-models")
    print(pipeline_job.name)
    ml_client.jobs.stream(pipeline_job.name)
