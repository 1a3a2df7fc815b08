"""Build hook: compiles the text catalogue (registry/i18n/locale/*/LC_MESSAGES/*.po) to the
``.mo`` files gettext reads, into the build, so an installed package never compiles at run
time. The ``.mo`` files are not kept in git (docs/i18n.md); the project's metadata is in
pyproject.toml."""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogue(build_py):
    """``build_py`` that also writes a ``.mo`` beside every ``.po`` of the catalogue."""

    def run(self) -> None:
        super().run()
        for po in Path(self.build_lib, "registry", "i18n", "locale").glob("*/LC_MESSAGES/*.po"):
            with po.open("rb") as source:
                catalog = read_po(source)
            with po.with_suffix(".mo").open("wb") as target:
                write_mo(target, catalog)


setup(cmdclass={"build_py": BuildWithCatalogue})
