"""Development install: ``.venv`` (the JupyterLab environment) and ``.venv-ipykernel6`` (a kernel
environment on the ipykernel 6.29 line), both from PyPI with the exact pins of ``requirements/``.

In each environment the checkout is put on the path (like ``pip install -e``) and every file of the
wheel's ``shared-data`` table (pyproject.toml) is linked under the environment's prefix, exactly where
``pip install jupyterlab-carto-credentials`` puts it: the labextension, the server-extension switch and
the IPython startup file. ``.venv`` gets a kernelspec ``python3-ipykernel6`` for the second
environment, and CARTO 3 (``.venv-carto3``, kernelspec ``python3-carto3``: carto-auth and pydeck-carto)
and CARTOframes kernel environments. Idempotent: pip runs only when the pins changed.

Run with the ``python3`` first on PATH (3.11): ``python3 scripts/dev_install.py``.
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
LAB_VENV = ROOT / ".venv"
KERNEL6_VENV = ROOT / ".venv-ipykernel6"
KERNEL6_SPEC_NAME = "python3-ipykernel6"
# A kernel environment without this package, as a user's other environments are: tests of the
# silent bootstrap use it through the kernelspec "python3-bare".
BARE_VENV = ROOT / ".venv-kernel-bare"
BARE_SPEC_NAME = "python3-bare"
# CARTOframes 1.2.5 pins jinja2<3, which JupyterLab cannot share, so it lives in a kernel environment
# of its own, as users keep it. ``.venv-cartoframes`` is that environment without this package;
# ``.venv-cartoframes-ours`` sees the same packages (a .pth to its site-packages, nothing copied) plus
# this package, as after ``pip install jupyterlab-carto-credentials`` there.
CARTOFRAMES_VENV = ROOT / ".venv-cartoframes"
CARTOFRAMES_OURS_VENV = ROOT / ".venv-cartoframes-ours"
# CARTO 3 (issue 11): the real carto-auth 0.2.0 and pydeck-carto from PyPI with this package, as a
# user's CARTO 3 kernel environment (ipykernel 7.4, no ipywidgets), kernelspec "python3-carto3".
CARTO3_VENV = ROOT / ".venv-carto3"
CARTO3_SPEC_NAME = "python3-carto3"


def python_of(venv: Path) -> Path:
    return venv / "bin" / "python"


def pip_install(venv: Path, args: list[str], inputs: list[Path]) -> None:
    """``pip install ARGS`` into VENV unless the files in INPUTS are unchanged since the last run."""
    if not python_of(venv).exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in inputs)).hexdigest()
    stamp = venv / ".requirements-stamp"
    if stamp.exists() and stamp.read_text() == digest:
        return
    pip = [str(python_of(venv)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run(pip + args, check=True)
    stamp.write_text(digest)


def overlay(venv: Path, base: Path) -> None:
    """VENV, a venv without pip whose Python also sees every package of BASE (a .pth line)."""
    if not python_of(venv).exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site_packages(venv) / "base_environment.pth").write_text(f"{site_packages(base)}\n")


def site_packages(venv: Path) -> Path:
    out = subprocess.run(
        [str(python_of(venv)), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(out.stdout.strip())


def link(target: Path, link_path: Path) -> None:
    link_path.parent.mkdir(parents=True, exist_ok=True)
    if link_path.is_symlink() or link_path.exists():
        if link_path.is_symlink() and Path(os.readlink(link_path)) == target:
            return
        if link_path.is_dir() and not link_path.is_symlink():
            raise SystemExit(f"{link_path} is a real directory; remove it and rerun")
        link_path.unlink()
    link_path.symlink_to(target)


def install_shared_data(venv: Path) -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shared = config["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    for source, dest in shared.items():
        src = ROOT / source
        dst = venv / dest
        if src.is_dir():
            # Link entries one by one so that other entries (install.json) can sit beside them.
            dst.mkdir(parents=True, exist_ok=True)
            for entry in src.iterdir():
                link(entry, dst / entry.name)
        elif src.exists():
            link(src, dst)
        else:
            raise SystemExit(f"{source} is missing: build the extension first (npm run build)")


def develop(venv: Path) -> None:
    """The checkout on VENV's path, and the wheel's shared data under its prefix."""
    (site_packages(venv) / "jupyterlab_carto_credentials_dev.pth").write_text(f"{ROOT}\n")
    install_shared_data(venv)


def install_kernelspec(name: str, venv: Path, display_name: str) -> None:
    """A kernelspec NAME in .venv whose kernels run on VENV's Python."""
    spec_dir = LAB_VENV / "share" / "jupyter" / "kernels" / name
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [str(python_of(venv)), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": display_name,
        "language": "python",
        "metadata": {"debugger": True},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")


def main() -> None:
    constraints = REQUIREMENTS / "constraints.txt"
    pip_install(
        LAB_VENV,
        ["-r", str(REQUIREMENTS / "dev.in"), "-c", str(constraints)],
        [REQUIREMENTS / "dev.in", constraints],
    )
    develop(LAB_VENV)
    kernel6 = REQUIREMENTS / "kernel-ipykernel6.txt"
    pip_install(KERNEL6_VENV, ["-r", str(kernel6)], [kernel6])
    develop(KERNEL6_VENV)
    install_kernelspec(KERNEL6_SPEC_NAME, KERNEL6_VENV, "Python 3 (ipykernel 6.29)")
    pip_install(BARE_VENV, ["-r", str(kernel6)], [kernel6])
    install_kernelspec(BARE_SPEC_NAME, BARE_VENV, "Python 3 (without carto_credentials)")
    cartoframes = REQUIREMENTS / "kernel-cartoframes.txt"
    pip_install(CARTOFRAMES_VENV, ["-r", str(cartoframes)], [cartoframes])
    install_kernelspec(
        "python3-cartoframes-bare",
        CARTOFRAMES_VENV,
        "CARTOframes 1.2.5 (without carto_credentials)",
    )
    overlay(CARTOFRAMES_OURS_VENV, CARTOFRAMES_VENV)
    develop(CARTOFRAMES_OURS_VENV)
    install_kernelspec("python3-cartoframes", CARTOFRAMES_OURS_VENV, "CARTOframes 1.2.5")
    carto3 = REQUIREMENTS / "kernel-carto3.txt"
    pip_install(CARTO3_VENV, ["-r", str(carto3)], [carto3])
    develop(CARTO3_VENV)
    install_kernelspec(
        CARTO3_SPEC_NAME, CARTO3_VENV, "Python 3 (CARTO 3: carto-auth, pydeck-carto)"
    )
    print(f"development install ready in {LAB_VENV} (kernel environment {KERNEL6_VENV})")


if __name__ == "__main__":
    main()
