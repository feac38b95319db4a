"""One exception hierarchy for the whole package.

Every error names what the user must look at: the file (and DICOM tag), the case file
and entry, or the notebook and cell. ``str(err)`` is a single line suitable for a CLI;
command-line entry points catch :class:`CaseReportError`, print ``error: <message>`` and
exit with status 2 (status 1 for a render whose notebook failed).
"""

from __future__ import annotations

from pathlib import Path

#: What pydicom raises on malformed input (unknown VR, bad lengths, bad values): the
#: readers turn these into :class:`NotDicomError` or a gate finding, never a traceback.
READ_ERRORS: tuple[type[BaseException], ...] = (
    EOFError,
    OSError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    NotImplementedError,
    OverflowError,
    MemoryError,
    UnicodeError,
)


class CaseReportError(Exception):
    """Base class of every error the package raises on purpose."""

    exit_code: int = 2


class DicomInputError(CaseReportError):
    """A DICOM file or folder cannot be used.

    Attributes:
        path: the offending file or folder.
        tag: the DICOM keyword or tag concerned (e.g. ``"PixelSpacing"``), or ``None``.
        reason: what is wrong and, where possible, how to fix it.
    """

    def __init__(self, path: str | Path, reason: str, tag: str | None = None) -> None:
        self.path = Path(path)
        self.tag = tag
        self.reason = reason
        where = f"{self.path}" + (f" [{tag}]" if tag else "")
        super().__init__(f"{where}: {reason}")


class NotDicomError(DicomInputError):
    """The file is not DICOM (no preamble/meta, empty, or unreadable)."""


class UnsupportedDicomError(DicomInputError):
    """Valid DICOM that the package does not handle (modality, SOP class, syntax)."""


class PixelDataError(DicomInputError):
    """Pixel data missing, truncated, inconsistent with the header or undecodable."""


class GeometryError(DicomInputError):
    """Spacing, position or orientation missing, absurd or inconsistent."""


class SeriesSelectionError(DicomInputError):
    """A folder holds no usable series, or several and the choice is ambiguous."""


class CaseFileError(CaseReportError):
    """A per-case data file (YAML) is invalid.

    Attributes:
        path: the case file.
        entry: the entry concerned (e.g. ``"annotations[2]"`` or ``"panels.A1.window"``).
    """

    def __init__(self, path: str | Path, entry: str, reason: str) -> None:
        self.path = Path(path)
        self.entry = entry
        self.reason = reason
        super().__init__(f"{self.path}: {entry}: {reason}")


class WindowError(CaseReportError, ValueError):
    """A display window is invalid.

    Attributes:
        argument: the argument (or case-file key) at fault, e.g. ``"width_hu"``, ``"hi"``,
            ``"percentiles"``; ``""`` when the whole value is wrong.
        reason: what is wrong, with the value and the allowed range.
    """

    def __init__(self, argument: str, reason: str) -> None:
        self.argument = argument
        self.reason = reason
        super().__init__(f"{argument}: {reason}" if argument else reason)


class FigureError(CaseReportError):
    """A panel cannot be drawn as asked (missing view, bad window, ...)."""


class SynthError(CaseReportError):
    """The simulator was asked for something it cannot do (unknown case, bad output dir)."""


class ParameterError(CaseReportError):
    """A notebook parameter (or command-line override) is unknown, mistyped or out of range.

    Attributes:
        notebook: path of the notebook (or ``"<command line>"``).
        parameter: the parameter name.
        reason: what is wrong.
        case: the case the value was meant for, or ``None`` (every notebook).
        value: the offending value as given, or ``None``.
    """

    def __init__(
        self,
        notebook: str | Path,
        parameter: str,
        reason: str,
        *,
        case: str | None = None,
        value: object = None,
    ) -> None:
        self.notebook = Path(notebook)
        self.parameter = parameter
        self.reason = reason
        self.case = case
        self.value = value
        where = f"case {case}: " if case else ""
        super().__init__(f"{self.notebook}: {where}parameter {parameter!r}: {reason}")


class RenderError(CaseReportError):
    """Executing or exporting a notebook failed.

    Attributes:
        case: case id (or ``"article"``).
        notebook: the notebook path.
        cell: 1-based index of the failing code cell, or ``None``.
        source: the first lines of the failing cell.
        exception: the exception name and message raised in the cell.
    """

    exit_code = 1

    def __init__(
        self,
        notebook: str | Path,
        reason: str,
        *,
        case: str | None = None,
        cell: int | None = None,
        source: str = "",
        exception: str = "",
    ) -> None:
        self.case = case
        self.notebook = Path(notebook)
        self.cell = cell
        self.source = source
        self.exception = exception
        self.reason = reason
        where = f"{self.notebook}" + (f" (case {case})" if case else "")
        if cell is not None:
            where += f", cell {cell}"
        super().__init__(f"{where}: {reason}")

    def report(self) -> str:
        """A multi-line block: case, notebook, cell, first lines of the cell, exception."""
        lines = [f"render failed: {self.notebook}"]
        if self.case:
            lines.append(f"  case:      {self.case}")
        if self.cell is not None:
            lines.append(f"  cell:      {self.cell}")
        if self.source:
            first = self.source.strip().splitlines()[:3]
            lines.append("  source:    " + "\n             ".join(first))
        lines.append(f"  exception: {self.exception or self.reason}")
        return "\n".join(lines)


class PhiError(CaseReportError):
    """Input DICOM carries identifiable data; lists the file and the offending tags."""

    def __init__(self, path: str | Path, tags: list[str]) -> None:
        self.path = Path(path)
        self.tags = list(tags)
        super().__init__(f"{self.path}: identifiable data in {', '.join(self.tags)}")


class PhiFindingsError(PhiError):
    """Several input files carry identifiable data.

    Attributes:
        findings: offending DICOM keywords per file (``path``/``tags`` give the first file).
    """

    def __init__(self, findings: dict[Path, list[str]]) -> None:
        self.findings = {Path(p): list(t) for p, t in sorted(findings.items())}
        first, tags = next(iter(self.findings.items()))
        super().__init__(first, tags)
        parts = [f"{p}: {', '.join(t)}" for p, t in self.findings.items()]
        self.args = (f"identifiable data in {len(parts)} file(s): " + "; ".join(parts),)


class ReviewError(CaseReportError):
    """A reviewer tool (verify, bundle, deidentify) cannot use its input or target.

    Attributes:
        path: the offending file or folder.
        reason: what is wrong and how to fix it.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class RenderFailures(RenderError):
    """Several notebook runs failed; ``errors`` holds one :class:`RenderError` each."""

    def __init__(self, errors: list[RenderError]) -> None:
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(
            first.notebook,
            f"{len(self.errors)} run(s) failed: "
            + ", ".join(str(e.case or e.notebook.name) for e in self.errors),
            case=first.case,
            cell=first.cell,
            source=first.source,
            exception=first.exception,
        )

    def report(self) -> str:
        """One report block per failed run."""
        return "\n".join(e.report() for e in self.errors)


def os_error_line(exc: OSError) -> str:
    """One line for an operating-system error: the path, the problem and what to do.

    Names the file the error is about (``exc.filename``; the folder for a hidden staging
    or temporary file), never the input the command was reading, and says how to fix it
    for the usual output problems.
    """
    import errno

    while exc.errno is None and isinstance(exc.__context__, OSError):
        exc = exc.__context__  # libraries re-raise a bare OSError around the real one
    where = "" if exc.filename is None else str(exc.filename)
    if Path(where).name.startswith("."):  # staging and temporary files: name the folder
        where = str(Path(where).parent)
    if exc.filename2 is not None and not Path(str(exc.filename2)).name.startswith("."):
        where = f"{where} -> {exc.filename2}"
    problem = exc.strerror or type(exc).__name__
    hints = {
        errno.EACCES: "make it writable (or readable) or choose another location",
        errno.EPERM: "make it writable (or readable) or choose another location",
        errno.EROFS: "choose another output location",
        errno.ENOSPC: "free some space or choose another output location",
        errno.EDQUOT: "free some space or choose another output location",
    }
    hint = hints.get(exc.errno or 0, "")
    text = f"{where}: {problem.lower()}" if where else problem.lower()
    return f"{text}; {hint}" if hint else text
