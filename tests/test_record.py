"""`notebook.record`: the values the tests and `ssmlab run` read back, invisible to the learner."""

from __future__ import annotations

import nbformat
import pytest

from ssmlab import notebook


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    yield InteractiveShell.instance()
    InteractiveShell.clear_instance()  # other tests expect plain Python, where the helpers print


def test_a_recorded_value_shows_nothing_and_reads_back_from_the_notebook(shell):
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        notebook.record("lab_cost", {"usd": 0.028, "lines": ["ssm"]})
    assert captured.stdout == "" and len(captured.outputs) == 1
    data = captured.outputs[0].data
    assert data["text/plain"] == ""  # JupyterLab draws nothing; no "recorded lab_cost" line, no missing-renderer notice
    cell = nbformat.v4.new_code_cell("notebook.record(...)", outputs=[nbformat.v4.new_output("display_data", data=data)])
    assert notebook.recorded(nbformat.v4.new_notebook(cells=[cell])) == {"lab_cost": {"usd": 0.028, "lines": ["ssm"]}}
