"""The pieces of :mod:`tenantml.loader`, one concern per module.

::

    loader.load_pipeline(path, ctx)
      schema.py        key sets of each YAML block, Problems (every problem collected, reported at once),
                       typed readers for numbers and flags
      components.py    ``component: ./x.yml`` -> one mapping (the file's definition overlaid with the node)
      dag.py           ``${{parent.jobs.<job>.outputs.<o>}}`` -> dependency order; cycles reported
      resolve.py       inputs and outputs -> DataInput / LiteralInput / DataOutput: bindings to the
                       parent and upstream jobs, and (for local execution only) local paths, data
                       assets, datastores, code folders
      bindings.py      ``${{inputs.x}}`` / ``${{outputs.y}}`` / ``${{name}}`` inside a job's command,
                       program_arguments and environment_variables; ``$[[...]]`` optional blocks
      entry_script.py  the entry script exists and defines run() (AST, no import)
      jobs.py          one command or parallel job -> spec.CommandJob / spec.ParallelJob
"""
