"""Development install into ./.venv without PyPI.

Creates a virtual environment on Debian's Python that sees the system's Jupyter packages, puts
this checkout on its path (like ``pip install -e``), and places every file of the wheel's
``shared-data`` table (pyproject.toml) under the environment's prefix, exactly where
``pip install jupyterlab-carto-credentials`` would put them. Idempotent.
"""
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"


def venv_python():
    return VENV / "bin" / "python"


def ensure_venv():
    if not venv_python().exists():
        subprocess.run(
            ["/usr/bin/python3", "-m", "venv", "--system-site-packages", "--without-pip", str(VENV)],
            check=True,
        )


def site_packages():
    out = subprocess.run(
        [str(venv_python()), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(out.stdout.strip())


def link(target: Path, link_path: Path):
    link_path.parent.mkdir(parents=True, exist_ok=True)
    if link_path.is_symlink() or link_path.exists():
        if link_path.is_symlink() and Path(os.readlink(link_path)) == target:
            return
        if link_path.is_dir() and not link_path.is_symlink():
            raise SystemExit(f"{link_path} is a real directory; remove it and rerun")
        link_path.unlink()
    link_path.symlink_to(target)


def install_shared_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shared = config["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    for source, dest in shared.items():
        src = ROOT / source
        dst = VENV / dest
        if src.is_dir():
            # Link entries one by one so that other entries (install.json) can sit beside them.
            dst.mkdir(parents=True, exist_ok=True)
            for entry in src.iterdir():
                link(entry, dst / entry.name)
        elif src.exists():
            link(src, dst)
        else:
            raise SystemExit(f"{source} is missing: build the extension first (npm run build)")


def install_kernelspec():
    """Kernels must run on the venv's Python so its startup file (etc/ipython/startup) runs."""
    spec_dir = VENV / "share" / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [str(venv_python()), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "metadata": {"debugger": True},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")


def main():
    ensure_venv()
    install_kernelspec()
    (site_packages() / "jupyterlab_carto_credentials_dev.pth").write_text(f"{ROOT}\n")
    install_shared_data()
    print(f"development install ready in {VENV}")


if __name__ == "__main__":
    sys.exit(main())
