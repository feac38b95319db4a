"""Simulated Tc-99m MDP bone scans, chest SPECT and low-dose CT for the case report.

The original images are not public; this package builds a voxelised adult phantom per
subject (cases A, B, C and a normal control), simulates planar whole-body and spot views,
a chest SPECT (case C) and low-dose chest CTs, and writes standard DICOM. Everything is
deterministic for a given seed. Command line::

    python -m casereport.synth --out DIR [--cases A,B,C,control] [--seed N] [--force]

It imports nothing from the rest of ``casereport`` except ``casereport.errors``.
"""

from casereport.synth.output import DEFAULT_SEED, GENERATOR, GENERATOR_VERSION, generate
from casereport.synth.subjects import SUBJECTS, SubjectSpec

__all__ = ["DEFAULT_SEED", "GENERATOR", "GENERATOR_VERSION", "SUBJECTS", "SubjectSpec", "generate"]
