"""Charts returned by a notebook cell show inline, once, as a PNG (a bare Figure would show as text)."""

from __future__ import annotations

import base64

import nbformat
import papermill

CELLS = [
    "from ssmlab import costplot, diagram\nfrom ssmlab.cost import Scenario, estimate\nfrom ssmlab.prices import PriceBook",
    'costplot.options_chart(estimate(PriceBook.offline(), Scenario("us-east-1")))',
    'diagram.polling_timeline({"agents": [], "log": []})',
    # saved first: shown as the saved file, at the inline size, without being drawn again
    'from ssmlab import notebook\nnotebook.show_figure(diagram.polling_timeline({"agents": [], "log": []}, filename="saved"))',
]


def test_cost_and_timeline_figures_display_inline_once(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source, executed = tmp_path / "figures.ipynb", tmp_path / "figures.out.ipynb"
    nbformat.write(notebook, source)
    papermill.execute_notebook(str(source), str(executed), kernel_name="python3", cwd=str(tmp_path),
                               progress_bar=False, execution_timeout=120)
    for cell in nbformat.read(executed, as_version=4).cells[1:]:
        pictures = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        assert len(pictures) == 1, cell.outputs
    shown = pictures[0]
    assert base64.b64decode(shown["data"]["image/png"]) == (tmp_path / "saved.png").read_bytes()
    assert shown["metadata"]["image/png"]["width"] == 1100  # 11 in, as the inline backend draws it at 100 dpi
