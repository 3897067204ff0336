"""Images (``.png .jpg .jpeg .tif .tiff``): a photographed or scanned page (a multi-page TIFF:
each frame a page), read by OCR (:mod:`index.ocr`, Tesseract); every paragraph is flagged
``ocr`` with its page and OCR's confidence."""

from __future__ import annotations

import io

from index.extracted import Extraction, ExtractError, ExtractLimits
from index.readers.base import ExtractingReader

#: images with more pixels are refused (a 600 dpi A3 page has 70 million): decompression bombs
MAX_PIXELS = 100_000_000


def _frames(data: bytes, limit: int):  # noqa: ANN202 - yields (page, image, dpi)
    from PIL import Image, ImageSequence, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Image.DecompressionBombError:
        raise ExtractError(f"image too large: more than {MAX_PIXELS:,} pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ExtractError(f"not a readable image ({exc.__class__.__name__}: {str(exc)[:120]})") from None
    for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
        if number > limit:
            return
        dpi = frame.info.get("dpi") or image.info.get("dpi")
        resolution = int(round(float(dpi[0]))) if dpi and float(dpi[0]) >= 70 else None
        yield number, frame.convert("L"), resolution


def _count_frames(data: bytes) -> int:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            return getattr(image, "n_frames", 1)
    except Exception:  # noqa: BLE001 - _frames says what is wrong with it
        return 1


class ImageReader(ExtractingReader):
    kind = "image"
    name = "Image (scanned or photographed page, by OCR)"
    suffixes = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
    title_from = ""
    limits = ("max_file_bytes", "ocr_max_pages", "ocr_page_time_limit_s", "ocr_min_confidence")

    def extract(self, data: bytes, limits: ExtractLimits) -> Extraction:
        from index.ocr import OcrUnavailable, ocr_available, ocr_pages

        if not limits.ocr:
            raise ExtractError("image files are read by OCR, which is off (SANAD_OCR)")
        missing = ocr_available(limits.ocr_languages)
        if missing:
            raise ExtractError(f"cannot read an image: {missing}")
        try:
            blocks, warnings = ocr_pages(_frames(data, limits.ocr_max_pages), limits, total=_count_frames(data))
        except OcrUnavailable as exc:
            raise ExtractError(f"cannot read an image: {exc}") from None
        if not blocks:
            raise ExtractError("no text found by OCR" + (f" ({'; '.join(warnings)})" if warnings else ""))
        return Extraction(blocks=tuple(blocks), warnings=tuple(warnings))
