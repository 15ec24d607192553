"""Stand-in for the ``azureml_user`` package of Azure ML's parallel-job runtime (workers only)."""
