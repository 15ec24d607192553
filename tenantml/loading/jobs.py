"""One job of the pipeline -> :class:`spec.CommandJob` or :class:`spec.ParallelJob`.

The parallel job's own settings are read here (input_data, mini_batch_size, partition_keys,
resources, retry_settings, thresholds, the runner flags in program_arguments, append_row_to);
inputs, outputs and code folders come from :mod:`resolve`, ``${{...}}`` text from
:mod:`bindings`, the entry script check from :mod:`entry_script`.
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tenantml.bindings import is_single_binding, substitute
from tenantml.errors import UserError
from tenantml.loading import bindings
from tenantml.loading.entry_script import check_entry_script
from tenantml.loading.resolve import Resolver
from tenantml.loading.schema import (
    COMMAND_KEYS,
    LIMITS_KEYS,
    PARALLEL_KEYS,
    RESOURCES_KEYS,
    RETRY_KEYS,
    TASK_KEYS,
    Problems,
    bare,
    file_of,
    plain,
    truthy,
)
from tenantml.spec import (
    LOGGING_LEVELS,
    CommandJob,
    DataInput,
    DataOutput,
    Input,
    ParallelJob,
    RetrySettings,
    RunnerArguments,
    Where,
)
from tenantml.suggest import did_you_mean
from tenantml.yamlio import YamlMap

# azure-ai-ml 1.35.2 _schema/job/input_output_entry.py: DataInputSchema (uri_file/uri_folder) takes these modes;
# MLTableInputSchema adds eval_mount and eval_download (azureml-examples' mnist parallel pipeline uses eval_mount).
PARALLEL_INPUT_MODES = ("ro_mount", "download", "direct")
# Linux's MAX_ARG_STRLEN (32 pages of 4 KiB) less room for the mount wrapper command.py puts around it
MAX_COMMAND_BYTES = 32 * 4096 - 8192
MLTABLE_EXTRA_MODES = ("eval_mount", "eval_download")


@dataclass
class JobBuilder:
    resolver: Resolver
    run_dir: Path  # outputs default to <run_dir>/<job>/outputs/<name>
    deps: dict[str, set[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    scope: str = ""  # "node/" for the jobs of a pipeline component: their full names and folders

    @property
    def problems(self) -> Problems:
        return self.resolver.problems

    @property
    def path(self) -> Path:
        return self.resolver.path

    def _depends_on(self, name: str) -> tuple[str, ...]:
        return tuple(sorted(self.scope + d for d in self.deps.get(name, ())))

    # ----------------------------------------------------------------- command job
    def command_job(self, name: str, raw: YamlMap, parent_inputs: dict[str, Input],
                    parent_outputs: dict[str, DataOutput]) -> CommandJob | None:
        p, r = self.problems, self.resolver
        prefix = f"jobs.{name}."
        before = len(p.items)
        p.unknown_keys(raw, COMMAND_KEYS, prefix, "a command job")
        inputs = r.inputs(raw.get("inputs") or YamlMap(), f"{prefix}inputs.", parent_inputs)
        outputs = r.outputs(raw.get("outputs"), f"{prefix}outputs.", self.run_dir / (self.scope + name), parent_outputs)
        r.job_outputs[name] = outputs
        command = raw.get("command")
        if not isinstance(command, str) or not command.strip():
            p.add("a command job needs a command.", key=f"{prefix}command", line=raw.line_of("command") or raw.line,
                  fix="add command: python run.py --data ${{inputs.data}}")
            return None
        code = r.code_folder(raw, prefix, default=file_of(raw, self.path).parent, allow_file=True)
        # an upload output is a fresh local folder on Azure ML, uploaded at job end: the command never sees
        # (nor can remove) what the datastore path already holds, so it gets an empty folder of the run's own
        run_dir = self.run_dir.absolute()
        staged = {n: run_dir / (self.scope + name) / "state" / "upload" / n for n, o in outputs.items()
                  if o.mode == "upload" and o.type != "uri_file" and o.remote is None
                  and not o.path.absolute().is_relative_to(run_dir)}
        seen = {n: replace(o, path=staged[n]) if n in staged else o for n, o in outputs.items()}
        resolve = bindings.job_resolver(name, inputs, seen, r.run_id, p, quote=True,
                                        declared=bindings.declared_names(raw), reported=r.reported(prefix))
        text = bindings.optional_blocks(command, inputs)
        text = substitute(text, lambda e: resolve(e, f"{prefix}command", raw.line_of("command")) or "")
        env = bindings.environment_variables(raw, prefix, resolve, p)
        timeout = None
        limits = raw.get("limits")
        if isinstance(limits, YamlMap):
            p.unknown_keys(limits, LIMITS_KEYS, f"{prefix}limits.", "limits")
            if "timeout" in limits:
                timeout = p.number(limits, "timeout", f"{prefix}limits.", 0.0, 0.0) or None
        if "\0" in text:  # subprocess refused it with a ValueError traceback: no program can take one
            p.add("the command holds a NUL character (\\0), which no shell command can hold.", key=f"{prefix}command",
                  line=raw.line_of("command"), fix="remove the \\0 from the command")
        elif len(text.encode("utf-8", "surrogateescape")) > MAX_COMMAND_BYTES:
            p.add(f"the command is {len(text.encode('utf-8', 'surrogateescape')):,} bytes; locally it runs as "
                  f"bash -c COMMAND, and Linux takes at most {MAX_COMMAND_BYTES:,} bytes in one argument "
                  "(MAX_ARG_STRLEN; it failed with 'Argument list too long').", key=f"{prefix}command",
                  line=raw.line_of("command"), local_only=True,
                  fix="put the long part in a script in the code folder and call it from the command")
        if len(p.items) > before or code is None:
            return None
        return CommandJob(name=self.scope + name, source=self.path, code=code, command=text, inputs=inputs, outputs=outputs,
                          environment_variables=env, timeout=timeout, where=Where(self.path, raw.line),
                          depends_on=self._depends_on(name), definition=plain(raw),
                          is_deterministic=truthy(raw.get("is_deterministic", True)), has_code="code" in raw,
                          staged=staged)

    # ----------------------------------------------------------------- parallel job
    def parallel_job(self, name: str, raw: YamlMap, parent_inputs: dict[str, Input],
                     parent_outputs: dict[str, DataOutput]) -> ParallelJob | None:
        p, r = self.problems, self.resolver
        prefix = f"jobs.{name}."
        before = len(p.items)
        p.unknown_keys(raw, PARALLEL_KEYS, prefix, "a parallel job")
        inputs = r.inputs(raw.get("inputs") or YamlMap(), f"{prefix}inputs.", parent_inputs)
        outputs = r.outputs(raw.get("outputs"), f"{prefix}outputs.", self.run_dir / (self.scope + name), parent_outputs)
        r.job_outputs[name] = outputs

        for input_name, value in inputs.items():
            allowed = PARALLEL_INPUT_MODES + (MLTABLE_EXTRA_MODES if isinstance(value, DataInput)
                                              and value.type == "mltable" else ())
            if isinstance(value, DataInput) and value.mode not in (None, *allowed):
                inputs_raw = raw.get("inputs")
                spec = inputs_raw.get(input_name) if isinstance(inputs_raw, YamlMap) else None
                line = spec.line_of("mode") if isinstance(spec, YamlMap) else raw.line
                p.add(f"input mode '{value.mode}' is not allowed for a parallel job's input; azure-ai-ml accepts "
                      f"{', '.join(allowed)} for a {value.type} input (\"Value '{value.mode}' passed is not in set\").",
                      key=f"{prefix}inputs.{input_name}.mode", line=line, fix="use ro_mount (the default) or download")
        env_raw = raw.get("environment_variables")
        if isinstance(env_raw, YamlMap):
            for env_name, env_value in env_raw.items():
                if not isinstance(env_value, str):
                    p.add(f"environment variable {env_name} is {env_value!r}; Azure ML wants a string "
                          "(azure-ai-ml: 'Not a valid string.').", key=f"{prefix}environment_variables.{env_name}",
                          line=env_raw.line_of(env_name), fix=f'quote it: {env_name}: "{env_value}"')
        task = raw.get("task")
        if not isinstance(task, YamlMap):
            p.add("a parallel job needs a 'task:' with code and entry_script.", key=f"{prefix}task",
                  line=raw.line_of("task") or raw.line, fix="add task: {type: run_function, code: ./src, entry_script: x.py}")
            return None
        p.unknown_keys(task, TASK_KEYS, f"{prefix}task.", "the task of a parallel job")
        if "environment" not in task and r.local:  # loaded for Azure ML, the SDK says it itself
            p.add("a parallel job's task needs an environment: azure-ai-ml rejects the job without one "
                  "(\"Missing data for required field.\" at task.environment), so az ml job create would too.",
                  key=f"{prefix}task.environment", line=task.line, file=file_of(task, self.path),
                  fix="add it under task:, e.g. environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest "
                      "or {image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04, conda_file: ./conda.yml} "
                      "(locally the current Python runs it unless --environments isolated)")
        task_type = task.get("type", "run_function")
        if task_type != "run_function":
            p.add(f"task type '{task_type}' cannot run locally; tenantml runs 'run_function' tasks.",
                  key=f"{prefix}task.type", line=task.line_of("type"), fix="use type: run_function",
                  local_only=task_type in ("function", "model"))  # azure.ai.ml ParallelTaskType

        # what is divided into mini-batches
        input_data = self._input_data(raw, prefix, inputs)
        partition_keys = self._partition_keys(raw, prefix)
        data = inputs.get(input_data) if input_data else None
        mini_batch_size = raw.get("mini_batch_size")
        if isinstance(mini_batch_size, int) and not isinstance(mini_batch_size, bool):
            p.add(f"mini_batch_size is the number {mini_batch_size}; Azure ML's schema wants a string "
                  "(azure-ai-ml: \"Not a valid string.\"), so az ml job create rejects it.",
                  key=f"{prefix}mini_batch_size", line=raw.line_of("mini_batch_size"),
                  file=file_of(raw, self.path, "mini_batch_size"),
                  fix=f'quote it: mini_batch_size: "{mini_batch_size}"')
            mini_batch_size = str(mini_batch_size)
        if partition_keys and mini_batch_size is not None:
            self.warnings.append(f"{self.path}: {prefix}partition_keys: both partition_keys and mini_batch_size "
                                 "are set; partition_keys wins (one mini-batch per partition), as on Azure ML v2.")
            mini_batch_size = None
        if isinstance(data, DataInput) and data.producer is None:
            self._check_data_now(data, mini_batch_size, partition_keys, prefix, raw)
            if not partition_keys and data.path.exists() and (data.type != "mltable" or
                                                               (data.path / "MLTable").is_file()):
                from tenantml.division import is_tabular
                from tenantml.minibatch_size import sdk_unit_count
                count = sdk_unit_count(mini_batch_size) if mini_batch_size is not None else None
                if count is not None and not is_tabular(data):
                    self.warnings.append(
                        f"{file_of(raw, self.path, 'mini_batch_size')}:{raw.line_of('mini_batch_size')}: "
                        f"{prefix}mini_batch_size: '{mini_batch_size}' on file input means {count} files per "
                        f"mini-batch: azure-ai-ml converts the unit to the number {count} before sending it, "
                        "whatever the input, and Azure ML's runtime counts files for file input. Write a number "
                        "of files.")
        elif isinstance(data, DataInput) and not partition_keys and mini_batch_size is not None:
            self._check_mini_batch_size_either(mini_batch_size, prefix, raw)
        # data an upstream step writes (data.producer) is checked when that step has run, by the
        # division, with the same messages: its MLTable file may not exist yet

        integer = self._integer
        for section in ("resources", "retry_settings"):  # azure-ai-ml: NestedField, 'Invalid input type.'
            if raw.get(section) is not None and not isinstance(raw[section], YamlMap):
                p.add(f"{section} is {raw[section]!r}; it must be a mapping (azure-ai-ml refuses it: 'Invalid input "
                      "type.').", key=f"{prefix}{section}", line=raw.line_of(section),
                      fix=f"write the settings indented under {section}:, e.g. "
                          + ("instance_count: 1" if section == "resources" else "max_retries: 2"))
        instance_count = integer(raw.get("resources") or YamlMap(), "instance_count", f"{prefix}resources.", 1, 1)
        if isinstance(raw.get("resources"), YamlMap):
            p.unknown_keys(raw["resources"], RESOURCES_KEYS, f"{prefix}resources.", "resources")
        # Omitted, azure-ai-ml sends no max_concurrency_per_instance at all (its dump_default=1 is
        # only used when dumping YAML; checked with 1.35.2's _to_rest_object), so the service default
        # applies: "For a CPU compute, the default value is the number of cores" (reference-yaml-job-parallel).
        concurrency = integer(raw, "max_concurrency_per_instance", prefix, os.cpu_count() or 1, 1)
        retry_raw = raw.get("retry_settings") or YamlMap()
        if isinstance(retry_raw, YamlMap):
            p.unknown_keys(retry_raw, RETRY_KEYS, f"{prefix}retry_settings.", "retry_settings")
        retry = RetrySettings(max_retries=integer(retry_raw, "max_retries", f"{prefix}retry_settings.", 2, 0),
                              timeout=integer(retry_raw, "timeout", f"{prefix}retry_settings.", 60, 1, 259200))
        mb_threshold = integer(raw, "mini_batch_error_threshold", prefix, -1, -1)
        error_threshold = integer(raw, "error_threshold", prefix, -1, -1)
        level = raw.get("logging_level", "INFO")
        if level not in LOGGING_LEVELS:  # exact case: azure-ai-ml's DumpableEnumField does not fold case
            p.add(f"logging_level '{level}' is not valid: Azure ML accepts exactly DEBUG, INFO or WARNING "
                  "(upper case).", key=f"{prefix}logging_level", line=raw.line_of("logging_level"),
                  fix="use one of " + ", ".join(LOGGING_LEVELS))
            level = "INFO"

        resolve = bindings.job_resolver(name, inputs, outputs, r.run_id, p, declared=bindings.declared_names(raw),
                                        reported=r.reported(prefix))
        program_arguments = bindings.program_arguments(task, prefix, resolve, p)
        runner_args = self._runner_arguments(program_arguments, task, prefix)
        if error_threshold == -1 and runner_args.error_threshold is not None:
            error_threshold = runner_args.error_threshold
        append_row_to = self._append_row_to(task, prefix, outputs)
        env = bindings.environment_variables(raw, prefix, resolve, p)
        if "environment_variables" in task:
            self.warnings.append(
                f"{file_of(task, self.path, 'environment_variables')}:{task.line_of('environment_variables')}: "
                f"{prefix}task.environment_variables is ignored: azure-ai-ml's task schema has no such key and drops "
                "it without a word, so Azure ML never sets these variables; tenantml does not set them either. "
                f"Move them to {prefix}environment_variables.")

        code = r.code_folder(task, f"{prefix}task.", default=file_of(task, self.path).parent)
        entry_script = check_entry_script(task, prefix, code, p) if code is not None else None
        if len(p.items) > before or code is None or entry_script is None or input_data is None:
            return None
        return ParallelJob(
            name=self.scope + name, source=self.path, code=code, entry_script=entry_script, inputs=inputs, outputs=outputs,
            input_data=input_data, mini_batch_size=None if mini_batch_size is None else str(mini_batch_size),
            partition_keys=partition_keys, instance_count=instance_count, max_concurrency_per_instance=concurrency,
            retry_settings=retry, mini_batch_error_threshold=mb_threshold, error_threshold=error_threshold,
            logging_level=level, program_arguments=program_arguments, runner_arguments=runner_args,
            append_row_to=append_row_to, environment_variables=env, where=Where(self.path, raw.line),
            depends_on=self._depends_on(name), definition=plain(raw),
            is_deterministic=truthy(raw.get("is_deterministic", True)))

    def _integer(self, raw: Any, key: str, prefix: str, default: int, minimum: int,
                 maximum: int | None = None) -> int:
        """An integer setting read as azure-ai-ml reads it (marshmallow ``Integer``, not strict).

        An int or an integer string is taken; a float is truncated toward zero as the SDK does
        (``timeout: 60.5`` reaches Azure ML as 60), with a warning; anything else is refused as the
        SDK refuses it. The range checks are the service's documented ranges
        (reference-yaml-job-parallel), which the SDK itself does not check.
        """
        if not isinstance(raw, YamlMap) or key not in raw:
            return default
        value = raw[key]
        number: int | None = None
        if isinstance(value, bool):
            number = None
        elif isinstance(value, int):
            number = value
        elif isinstance(value, float) and math.isfinite(value):
            number = int(value)
            if number != value:
                self.warnings.append(f"{file_of(raw, self.path, key)}:{raw.line_of(key)}: {prefix}{key}: {value!r} "
                                     f"is truncated to {number}, as azure-ai-ml does before sending it to Azure ML.")
        elif isinstance(value, str):
            try:
                number = int(value.strip())
            except ValueError:
                number = None
        if number is None:
            self.problems.add(f"{key} is {value!r}; Azure ML wants an integer here (azure-ai-ml: "
                              "'Not a valid integer.').", key=f"{prefix}{key}", line=raw.line_of(key),
                              fix=f"set it to e.g. {max(default, minimum)}")
            return default
        if number < minimum or (maximum is not None and number > maximum):
            bounds = f">= {minimum}" if maximum is None else f"{minimum} to {maximum}"
            self.problems.add(f"{key} is {value!r}; Azure ML accepts {bounds} (reference-yaml-job-parallel).",
                              key=f"{prefix}{key}", line=raw.line_of(key), fix=f"set it to e.g. {max(default, minimum)}")
            return default
        return number

    def _input_data(self, raw: YamlMap, prefix: str, inputs: dict[str, Input]) -> str | None:
        value = raw.get("input_data")
        line = raw.line_of("input_data")
        expr = is_single_binding(value)
        if value is None:
            self.problems.add("a parallel job needs input_data, the input divided into mini-batches.",
                              key=f"{prefix}input_data", line=raw.line, fix="add input_data: ${{inputs.<name>}}")
            return None
        if expr is None or not expr.startswith("inputs."):
            self.problems.add(f"input_data is '{value}'; it must be a binding to one of the job's inputs.",
                              key=f"{prefix}input_data", line=line, fix="write input_data: ${{inputs.<name>}}")
            return None
        name = expr.split(".", 1)[1]
        if name not in inputs and f"inputs.{name}" in self.resolver.reported(prefix):
            return None  # its own problem is reported
        if name not in inputs:
            self.problems.add(f"input_data names input '{name}', which the job does not have; "
                              f"{did_you_mean(name, inputs)}", key=f"{prefix}input_data", line=line,
                              fix="declare it under the job's inputs or correct the name")
            return None
        if not isinstance(inputs[name], DataInput):
            self.problems.add(f"input_data names input '{name}', which is a literal value, not data.",
                              key=f"{prefix}input_data", line=line,
                              fix="bind input_data to a uri_folder, uri_file or mltable input")
            return None
        return name

    def _partition_keys(self, raw: YamlMap, prefix: str) -> tuple[str, ...]:
        value = raw.get("partition_keys")
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            self.problems.add("partition_keys must be a list of column names.", key=f"{prefix}partition_keys",
                              line=raw.line_of("partition_keys"), fix="write partition_keys: [store, brand]")
            return ()
        return tuple(value)

    def _check_data_now(self, data: DataInput, mini_batch_size: Any, partition_keys: tuple[str, ...], prefix: str,
                        raw: YamlMap) -> None:
        if not data.path.exists():
            return  # reported where the input is defined
        if data.type == "mltable" and not (data.path / "MLTable").is_file():
            line = data.where.line if data.where else raw.line_of("input_data")
            self.problems.add(f"input type is mltable but {data.path} has no MLTable file; a parallel step reads "
                              "its input_data as the table the MLTable file describes.",
                              key=f"{prefix}inputs.{data.name}", line=line,
                              fix="point at the folder that holds the MLTable file, or use type: uri_folder")
            return
        if not partition_keys:
            self._check_mini_batch_size(mini_batch_size, data, prefix, raw)

    def _check_mini_batch_size_either(self, value: Any, prefix: str, raw: YamlMap) -> None:
        """Data not written yet: its type (files or a table) is known at run time, but a value that
        is neither a count of files nor a size is wrong either way."""
        from tenantml.minibatch_size import parse_mini_batch_size
        failures = []
        for tabular in (False, True):
            try:
                parse_mini_batch_size(value, tabular=tabular)
            except UserError as exc:
                failures.append(exc)
        if len(failures) == 2:
            self.problems.add(f"{bare(failures[0])} It is not a size for tabular input either.",
                              key=f"{prefix}mini_batch_size", line=raw.line_of("mini_batch_size"),
                              fix="write a number of files (\"10\") or a size (\"1mb\")")

    def _check_mini_batch_size(self, value: Any, data: DataInput, prefix: str, raw: YamlMap) -> None:
        from tenantml.division import is_tabular
        from tenantml.minibatch_size import parse_mini_batch_size
        try:
            # An input an upstream step has not produced yet: whether it is tabular is not known,
            # but a value that is neither a count nor a size is wrong either way (and must fail in
            # validate, not after the upstream steps ran).
            tabular = is_tabular(data) if data.path.exists() else True
        except UserError as exc:  # the MLTable file itself is wrong: its own file names the problem
            self.problems.items.append(exc)
            return
        try:
            parse_mini_batch_size(value, tabular=tabular)
        except UserError as exc:
            self.problems.add(bare(exc), key=f"{prefix}mini_batch_size", line=raw.line_of("mini_batch_size"),
                              fix=exc.fix)

    def _runner_arguments(self, args: tuple[str, ...], task: YamlMap, prefix: str) -> RunnerArguments:
        parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
        parser.add_argument("--error_threshold", type=float)  # "5.0" is accepted: see below
        parser.add_argument("--allowed_failed_percent", type=float, default=100.0)
        parser.add_argument("--task_overhead_timeout", type=float, default=600.0)
        parser.add_argument("--progress_update_timeout", type=float)
        parser.add_argument("--first_task_creation_timeout", type=float, default=600.0)
        parser.add_argument("--resource_monitor_interval", type=float, default=0.0)
        key, line = f"{prefix}task.program_arguments", task.line_of("program_arguments")
        try:
            known, _ = parser.parse_known_args(list(args))
        except (argparse.ArgumentError, SystemExit) as exc:
            self.problems.add(f"a runner flag in program_arguments has a bad value: {exc}.", key=key, line=line,
                              fix="give the flag a number")
            return RunnerArguments()
        if not 0 <= known.allowed_failed_percent <= 100:
            self.problems.add(f"--allowed_failed_percent is {known.allowed_failed_percent:g}; it must be 0 to 100.",
                              key=key, line=line)
        error_threshold = None
        if known.error_threshold is not None:
            # The SDK passes program_arguments through as text; how the runtime parses the flag is not
            # published. Official examples write integers; azure-ai-ml truncates the YAML key
            # error_threshold (5.5 -> 5). Decision (docs/semantics.md): take a number, truncated as
            # the SDK truncates the key, and say so when that changes it.
            value = known.error_threshold
            if not math.isfinite(value) or value < -1:
                self.problems.add(f"--error_threshold is {value:g}; it must be -1 or more.", key=key, line=line)
            else:
                error_threshold = int(value)
                if error_threshold != value:
                    self.warnings.append(f"{self.path}: {key}: --error_threshold {value:g} is taken as {error_threshold} "
                                         "failed items (truncated, as azure-ai-ml truncates error_threshold).")
        return RunnerArguments(error_threshold, known.allowed_failed_percent, known.task_overhead_timeout,
                               known.progress_update_timeout, known.first_task_creation_timeout,
                               known.resource_monitor_interval)

    def _append_row_to(self, task: YamlMap, prefix: str, outputs: dict[str, DataOutput]) -> str | None:
        value = task.get("append_row_to")
        if value is None:
            return None
        key, line = f"{prefix}task.append_row_to", task.line_of("append_row_to")
        expr = is_single_binding(value)
        if expr is None or not expr.startswith("outputs."):
            self.problems.add(f"append_row_to is '{value}'; it must be a binding to one of the job's outputs.",
                              key=key, line=line, fix="write append_row_to: ${{outputs.<name>}}")
            return None
        name = expr.split(".", 1)[1]
        if name not in outputs and f"outputs.{name}" in self.resolver.reported(prefix):
            return None  # its own problem is reported
        if name not in outputs:
            self.problems.add(f"append_row_to names output '{name}', which the job does not have; "
                              f"{did_you_mean(name, outputs)}", key=key, line=line,
                              fix="declare it under the job's outputs")
            return None
        return name
