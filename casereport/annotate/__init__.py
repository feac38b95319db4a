"""Case-file annotations drawn in millimetres.

:func:`draw_annotations` draws arrows, circles, ellipses and labels of a
:class:`casereport.case.CaseSpec` on a panel through the panel's mm -> data mapping.
The case file itself is read by :mod:`casereport.case`.
"""

from .draw import draw_annotations, identity

__all__ = ["draw_annotations", "identity"]
