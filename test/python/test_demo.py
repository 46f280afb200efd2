"""The demo command's own files: its welcome notebook is valid nbformat 4.5 (cell ids included)."""

import importlib.util
import json
import os
import warnings

import nbformat

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_welcome_notebook_is_valid_without_warnings():
    spec = importlib.util.spec_from_file_location("demo", os.path.join(REPO, "scripts", "demo.py"))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)  # defines things only; main() runs under __main__
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nbformat warns (MissingIDFieldWarning) on cells without id
        notebook = nbformat.reads(json.dumps(demo.WELCOME), as_version=4)
        nbformat.validate(notebook)
    assert len({cell.id for cell in notebook.cells}) == len(notebook.cells)
