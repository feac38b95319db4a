"""casereport: a reproducible nuclear-medicine case report regenerated from DICOM."""

#: The one place the version is written: pyproject.toml reads it (dynamic version), the
#: tests check CITATION.cff and CHANGELOG.md against it.
__version__ = "0.1.0"
