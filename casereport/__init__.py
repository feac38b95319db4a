"""casereport: a reproducible nuclear-medicine case report regenerated from DICOM."""

__version__ = "0.1.0"
