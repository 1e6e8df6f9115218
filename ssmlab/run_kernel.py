"""The one Jupyter kernel an `ssmlab run` executes every notebook in (`ssmlab.runner`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

KERNEL_NAME = "python3"


class RunKernel:
    """One python3 kernel for the run, started in the notebooks' folder; its stderr goes to a log file.

    One client stays connected for the whole run (a new one after a restart): it resets the namespace
    between notebooks and papermill executes the notebooks through it (`ssmlab.engine`).
    """

    # After the reset, what survives it (modules, their caches) is moved out of the garbage collector's
    # view (gc.freeze): %reset's own collections, and the collections during the next notebook, then
    # walk only what was made since, not the whole warm heap again (0.15-0.3 s per reset, measured).
    RESET = ("import os as _os\n_os.chdir({cwd!r})\nget_ipython().run_line_magic('reset', '-f')\n"
             "__import__('gc').freeze()")
    FREEZE = "__import__('gc').freeze()"
    # matplotlib (0.4 s of imports, for the polling timelines and the cost charts) is imported by a background
    # thread from the second notebook on, while its cells wait on AWS; the first notebook's own imports (boto3,
    # ssmlab) run on their own (about 0.25 s less than importing both at once, measured). No name is left
    # behind, a failure is left for the notebook that imports it, and pyplot (which picks the inline backend) too.
    WARM = ("def _ssmlab_warm():\n"
            "    try:\n        import matplotlib.figure, matplotlib.backends.backend_agg\n"
            "    except Exception:\n        pass\n"
            "__import__('threading').Thread(target=_ssmlab_warm, daemon=True).start()\n"
            "del _ssmlab_warm")

    # No input history: a run's cells need none, and IPython would write each one to its SQLite
    # history (about 1 ms per cell, measured, and a history file that grows with every run).
    OPTIONS = ["--HistoryManager.enabled=False"]

    def __init__(self, cwd: Path, log: Path):
        self.cwd, self.log_path = cwd, log
        self.manager: Any = None
        self.client: Any = None
        self._log: Any = None
        self._fresh = True

    def __enter__(self) -> "RunKernel":
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        self._log = open(self.log_path, "w")
        self.manager = AsyncKernelManager(kernel_name=KERNEL_NAME)
        run_sync(self.manager.start_kernel)(cwd=str(self.cwd), stderr=self._log, extra_arguments=self.OPTIONS)
        self._connect()
        return self

    def _connect(self) -> None:
        from jupyter_core.utils import run_sync

        if self.client is not None:
            self.client.stop_channels()
        self.client = self.manager.client()
        self.client.start_channels()
        run_sync(self.client.wait_for_ready)(timeout=60)
        self.client.allow_stdin = False  # as nbclient sets its own: a notebook cell cannot prompt
        self._fresh = True
        self._warm = False

    def reset(self, restart: bool = False) -> None:
        """Before every notebook but the first: a clean namespace in the notebooks' folder (a new kernel
        when it died, or when `restart`: a cell interrupted for its time may still be running)."""
        from jupyter_core.utils import run_sync

        if restart or not run_sync(self.manager.is_alive)():
            run_sync(self.manager.restart_kernel)(now=True)
            self._connect()
        if self._fresh:  # nothing to reset: the start-up heap is frozen (silently: no history)
            self._fresh, self._warm = False, True
            self._run(self.FREEZE, silent=True, store_history=False)
            return
        warm = f"\n{self.WARM}" if self._warm else ""  # from the second notebook on: see WARM
        self._warm = False
        self._run(self.RESET.format(cwd=str(self.cwd)) + warm)

    def _run(self, code: str, **options: Any) -> None:
        from jupyter_core.utils import run_sync

        run_sync(self.client.execute_interactive)(code, timeout=60, output_hook=lambda message: None, **options)

    def __exit__(self, *exc: Any) -> None:
        from jupyter_core.utils import run_sync

        try:
            self.client.stop_channels()
            run_sync(self.manager.shutdown_kernel)(now=False)
        finally:
            self._log.close()
