"""What a reader is: one class per document format, declaring what it reads and how.

A reader turns a file's bytes into the stored text, its numbered paragraphs and the title
the document states. Two kinds share the work:

- :class:`TextReader`: formats that are UTF-8 text (decoded by
  :func:`index.document_model.decode_text`); a subclass says how the text splits into
  paragraphs and, if the format states one, where its title is;
- :class:`ExtractingReader`: binary formats whose text an extractor pulls out as blocks
  (:class:`index.extracted.Extraction`, one paragraph each); their title is the file's
  metadata title. Any failure of the extractor becomes one :class:`DocumentError` line.

The registry (:mod:`index.readers`) lists the readers; nothing else names a format.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from index.document_model import DocumentError, Paragraph, decode_text, paragraphs_from_extraction
from index.extracted import Extraction, ExtractError, ExtractLimits
from index.titles import clean_title


@dataclass(frozen=True, slots=True)
class Reading:
    """What a reader made of one file."""

    text: str  # the stored text every paragraph's offsets index into
    paragraphs: tuple[Paragraph, ...]
    title: str = ""  # the title the document states, as found ("" when none); index.titles vets it
    warnings: tuple[str, ...] = ()  # e.g. "page 3 has no text layer (scanned?)"


class Reader(ABC):
    """One document format."""

    #: the name stored with each document (``DocumentInfo.kind``): short, lower case
    kind: ClassVar[str]
    #: the format's name for people (the docs' table)
    name: ClassVar[str]
    #: file suffixes, lower case with the dot; the first is the format's usual one
    suffixes: ClassVar[tuple[str, ...]]
    #: bytes rather than text: uploaded as a file (multipart), never as JSON text
    binary: ClassVar[bool] = False
    #: where the title the document states is found (the docs' table); "" = it states none
    title_from: ClassVar[str] = ""
    #: the settings fields that bound reading a file of this format (the docs' table)
    limits: ClassVar[tuple[str, ...]] = ("max_file_bytes",)

    @abstractmethod
    def read(self, data: bytes, *, file: str, limits: ExtractLimits) -> Reading:
        """The file's text, paragraphs and stated title; :class:`DocumentError` when unusable."""


class TextReader(Reader):
    """A UTF-8 text format: decode, find the title, derive the stored text, split it."""

    def read(self, data: bytes, *, file: str, limits: ExtractLimits) -> Reading:  # noqa: ARG002 - text has no extractor
        source = decode_text(data)
        text = self.stored_text(source)
        return Reading(text=text, paragraphs=tuple(self.split(text, file=file)), title=self.title(source))

    def title(self, source: str) -> str:  # noqa: ARG002 - formats that state no title
        """The title ``source`` (the decoded file) states, or ''."""
        return ""

    def stored_text(self, source: str) -> str:
        """The text that is stored and cited (the decoded file itself, unless overridden)."""
        return source

    @abstractmethod
    def split(self, text: str, *, file: str) -> list[Paragraph]:
        """The numbered paragraphs of the stored ``text``."""


class ExtractingReader(Reader):
    """A binary format read by an extractor: one paragraph per extracted block."""

    binary = True
    title_from = "the file's metadata title"

    def read(self, data: bytes, *, file: str, limits: ExtractLimits) -> Reading:
        try:
            extraction = self.extract(data, limits)
        except ExtractError as exc:
            raise DocumentError(str(exc)) from None
        except MemoryError:
            raise DocumentError("too large to extract in memory") from None
        except Exception as exc:  # noqa: BLE001 - a damaged file must never stop the corpus
            raise DocumentError(f"could not extract text ({exc.__class__.__name__}: {str(exc)[:160]})") from None
        text, paragraphs = paragraphs_from_extraction(extraction, file=file)
        return Reading(text=text, paragraphs=tuple(paragraphs), title=clean_title(extraction.title),
                       warnings=extraction.warnings)

    @abstractmethod
    def extract(self, data: bytes, limits: ExtractLimits) -> Extraction:
        """The file's text as blocks; :class:`ExtractError` (or any exception) when it cannot."""
