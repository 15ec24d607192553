"""``EntryScript``: what Azure ML's parallel-job runtime offers entry scripts.

Microsoft never published this module; scripts in the wild use ``EntryScript().logger`` and the
folder attributes below, so tenantml's workers provide them with the same names and layout:
the logger writes to ``logs/user/entry_script_log/<node>/processNNN.log.txt``.
"""

from __future__ import annotations

import logging
from pathlib import Path

_context: dict[str, str] = {}


def _configure(*, log_dir: str, node: str, agent_name: str, output_dir: str, working_dir: str,
               logging_level: str = "INFO") -> None:
    """Called once by the tenantml worker before the entry script is imported."""
    _context.update(log_dir=log_dir, node=node, agent_name=agent_name, output_dir=output_dir,
                    working_dir=working_dir, logging_level=logging_level)


class EntryScript:
    """Per-process singleton with the entry script's logger and folders."""

    _instance: EntryScript | None = None

    def __new__(cls) -> EntryScript:
        if cls._instance is None:
            if not _context:
                raise RuntimeError("EntryScript is only available inside a parallel-job worker")
            instance = super().__new__(cls)
            instance._setup()
            cls._instance = instance
        return cls._instance

    def _setup(self) -> None:
        self.log_dir: str = _context["log_dir"]
        self.agent_name: str = _context["agent_name"]
        self.node_id: str = _context["node"]
        self.output_dir: str = _context["output_dir"]
        self.working_dir: str = _context["working_dir"]
        folder = Path(self.log_dir) / "user" / "entry_script_log" / self.node_id
        folder.mkdir(parents=True, exist_ok=True)
        logger = logging.getLogger(f"ParallelRunStep.{self.node_id}.{self.agent_name}")
        logger.setLevel(_context.get("logging_level", "INFO"))
        logger.propagate = False
        if not logger.handlers:
            handler = logging.FileHandler(folder / f"{self.agent_name}.log.txt", encoding="utf-8")
            handler.setFormatter(logging.Formatter(
                "%(asctime)s|%(levelname)s|%(process)d|%(name)s|%(message)s"))
            logger.addHandler(handler)
        self.logger: logging.Logger = logger
