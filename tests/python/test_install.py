"""Installation: the configured directory is one the interpreter reads (Debian's
dist-packages), the package installs offline into a venv with pip, and importing it is
cheap (no asyncio, threading or dataclasses at import)."""
import os
import subprocess
import sys

import pytest

from conftest import SRCDIR

PKG = os.path.join(SRCDIR, "client", "python")


def test_install_dir_is_on_the_interpreters_path():
    d, prefix = os.environ.get("OCTO_PYCLIENTDIR"), os.environ.get("OCTO_PREFIX")
    if not d:
        pytest.skip("not run through make check (no configured install directory)")
    if prefix == "NONE":
        prefix = "/usr/local"
    if prefix not in ("/usr", "/usr/local"):
        pytest.skip(f"prefix {prefix}: PYTHONPATH is the user's to set")
    d = d.replace("${prefix}", prefix)
    path = subprocess.run([os.environ.get("PYTHON", sys.executable), "-c",
                           "import sys; print('\\n'.join(sys.path))"],
                          capture_output=True, text=True, check=True).stdout.split()
    assert d in path, (d, path)


def test_import_loads_no_heavy_modules():
    code = ("import sys, octostored; bad = [m for m in ('asyncio', 'threading', "
            "'dataclasses', 'octostored._sync', 'octostored._async') if m in sys.modules];"
            "print(bad)")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True,
                         text=True, check=True, env=dict(os.environ, PYTHONPATH=PKG))
    assert out.stdout.strip() == "[]"
    assert "OctoStoreClient" in dir(__import__("octostored"))


def test_pip_installs_offline_into_a_venv(tmp_path):
    import shutil
    src = tmp_path / "src"      # a copy: the build must not write into the source tree
    shutil.copytree(PKG, src, ignore=shutil.ignore_patterns("__pycache__", "build",
                                                            "*.egg-info"))
    venv = tmp_path / "venv"
    r = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"no venv module: {r.stderr.strip()[-200:]}")
    py = str(venv / "bin" / "python")
    r = subprocess.run([py, "-m", "pip", "install", "-q", "--no-build-isolation",
                        "--no-index", str(src)], capture_output=True, text=True,
                       env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"), cwd=tmp_path)
    if r.returncode != 0 and "No module named pip" in r.stderr:
        pytest.skip("no pip in the venv")
    assert r.returncode == 0, r.stderr
    out = subprocess.run([py, "-c", "import octostored, os; print(octostored.__file__); "
                          "print(os.path.exists(os.path.join(os.path.dirname("
                          "octostored.__file__), 'py.typed')))"],
                         capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    f, typed = out.split()
    assert f.startswith(str(venv)) and typed == "True"


def test_the_example_runs(local_daemon, tmp_path):
    ex = os.path.join(PKG, "examples", "locked_job.py")
    out = subprocess.run([sys.executable, ex, "example/job"], capture_output=True,
                         text=True, timeout=30, cwd=tmp_path,
                         env=dict(os.environ, OCTOSTORED_SOCKET=local_daemon.sock,
                                  PYTHONPATH=PKG))
    assert out.returncode == 0, out.stderr
    assert "acquired example/job" in out.stdout and "async work done" in out.stdout
