"""Test/demo JupyterLab host (see README.md)."""
