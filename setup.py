"""Build hook: the wheel carries the defaults file and the Lightroom plug-in.

Both live outside the Python package in the source tree (config/default.toml is
the documented place for configuration; lrplugin/ is what users install into
Lightroom), so a plain build would leave them out and an installed Stillmotion
could not start. They are copied into the package as it is built; an editable
install reads them where they are (see stillmotion.paths).
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithData(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        package = Path(self.build_lib) / "stillmotion"
        shutil.copy2(ROOT / "config" / "default.toml", package / "default.toml")
        plugin = package / "lrplugin" / "stillmotion.lrplugin"
        shutil.rmtree(plugin, ignore_errors=True)
        shutil.copytree(ROOT / "lrplugin" / "stillmotion.lrplugin", plugin,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithData})
