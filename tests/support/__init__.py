"""Helpers shared by the tests (imported from here, never from another test module).

* ``dicom_factory``: DICOM data sets built in code (no opaque binaries);
* ``figure_synth``: small studies built from ``casereport.io`` types, a case folder for them;
* ``nbfactory``: notebooks, tiny NM images and minimal case files;
* ``tiny_project``, ``cached_project``: small render projects and ``render.py`` runners;
* ``vendor_data``: studies shaped like GE, Siemens and Philips exports;
* ``cdp``: a headless Chromium over the DevTools protocol; ``jats_check``: JATS structure.

Fixtures built on them live in ``tests/conftest.py``.
"""
