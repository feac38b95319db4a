"""The original case report as the project cites it (casereport/references.json).

Tests compare the title found in CITATION.cff, the JATS and the article with this one
entry of the citation data, so the title is written in one place only.
"""

from __future__ import annotations

from casereport import references

#: CSL-JSON id of the original report in casereport/references.json
ORIGINAL_ID = "majeed2019"

ORIGINAL_TITLE: str = next(
    str(item["title"]) for item in references.load() if item["id"] == ORIGINAL_ID
)
