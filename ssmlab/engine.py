"""The papermill engine behind `ssmlab run`: papermill's own nbclient engine, saving once and
executing through the run's kernel client (see `name`)."""

from __future__ import annotations


NAME = "ssmlab"


def name() -> str:
    """Registers (once) and names papermill's nbclient engine with two changes:

    - it saves the executed notebook once at its end instead of before and after every cell (two
      JSON writes of the whole notebook, images included, per cell: about 1.5 s of a run, measured);
      `execute_notebook` still saves at the end, on failure too;
    - it executes through the run's own kernel client (`kc`), connected once, instead of connecting
      a new one per notebook: a new client waits for the kernel's status on a socket that has only
      just subscribed, about 0.2 s per notebook (jupyter_client's wait_for_ready), and papermill
      never closes the clients it connects to a kernel manager it was given."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger

    class SharedClient(PapermillNotebookClient):
        def __init__(self, nb_man, kc=None, **kwargs):
            super().__init__(nb_man, **kwargs)
            self.kc = kc  # already connected: nbclient's setup_kernel connects one only when this is None

    class SaveAtEnd(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, kc=None,
                                     **kwargs):
            nb_man.save = lambda **_: None  # this manager only; papermill's notebook_complete saves once
            try:
                options = {k: v for k, v in kwargs.items() if k not in ("input_path", "timeout", "startup_timeout")}
                client = SharedClient(nb_man, kc=kc, timeout=execution_timeout or kwargs.get("timeout"),
                                      startup_timeout=start_timeout, kernel_name=kernel_name, log=logger,
                                      log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file,
                                      **options)
                return client.execute()
            finally:
                del nb_man.save

    if NAME not in papermill_engines._engines:
        papermill_engines.register(NAME, SaveAtEnd)
    return NAME
