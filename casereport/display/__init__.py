"""Display conventions: NM planar in inverted grey scale, CT windows, SPECT/CT fusion.

Windows are :class:`casereport.case.Window` (one type for CT and NM).

Everything is drawn in millimetres: planar images in view mm, CT and SPECT planes in
patient mm (LPS), so annotations and scale bars need no pixel arithmetic.
"""

from .overlays import add_orientation_markers, add_scale_bar, clean_axes, outline
from .planar import NM_CMAP, VIEW_SIDES, CropMM, PlanarDisplay, order_views, show_planar_views
from .slices import FUSION_CMAP, SliceDisplay, show_ct_plane, show_fusion, show_nm_plane
from .volume import Plane, PlaneGrid, PlaneImage, default_grid, sample_plane, volume_extent_mm

__all__ = [
    "FUSION_CMAP",
    "NM_CMAP",
    "VIEW_SIDES",
    "CropMM",
    "Plane",
    "PlaneGrid",
    "PlaneImage",
    "PlanarDisplay",
    "SliceDisplay",
    "add_orientation_markers",
    "add_scale_bar",
    "clean_axes",
    "default_grid",
    "order_views",
    "outline",
    "sample_plane",
    "show_ct_plane",
    "show_fusion",
    "show_nm_plane",
    "show_planar_views",
    "volume_extent_mm",
]
