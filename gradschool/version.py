"""The package version, in one place: gradschool/__init__.py, pyproject.toml (setuptools reads it
as a dynamic version), run.json and the CLI all take it from here."""

__version__ = "0.1.0"
