"""A Jupyter kernel started by papermill reaches the emulator without being told anything."""

import json

import nbformat
import papermill
import pytest

pytestmark = pytest.mark.emulator

CELL = """\
from ssmlab.lab import Lab
lab = Lab("kernel-check")
vpcs = lab.client("ec2").describe_vpcs()["Vpcs"]
print(json.dumps({"endpoint": lab.endpoint_url, "target": lab.target, "default_vpcs": sum(v["IsDefault"] for v in vpcs)}))
"""


def test_a_papermill_kernel_finds_the_running_emulator_from_its_state_file(emulator, tmp_path, monkeypatch):
    monkeypatch.delenv("SSMLAB_EMULATOR_URL")  # only the state directory is inherited, as in a workshop
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("import json"), nbformat.v4.new_code_cell(CELL)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source, executed = tmp_path / "check.ipynb", tmp_path / "check.out.ipynb"
    nbformat.write(notebook, source)
    papermill.execute_notebook(
        str(source), str(executed), kernel_name="python3", cwd=str(tmp_path), progress_bar=False, execution_timeout=120
    )
    outputs = nbformat.read(executed, as_version=4).cells[1].outputs
    printed = json.loads("".join(o.get("text", "") for o in outputs if o.output_type == "stream"))
    assert printed == {"endpoint": emulator.endpoint_url, "target": "emulator", "default_vpcs": 1}
