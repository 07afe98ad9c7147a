"""Photos of a report: real images only, within limits, resized, without metadata.

Pillow decodes every upload fully (a file that only claims to be an image fails), refuses
decompression bombs, turns the picture upright as its EXIF orientation says, and
re-encodes it as a JPEG of at most `MAX_SIDE` pixels a side with no EXIF, XMP or ICC
data at all: the phone's GPS position, time and model never leave the citizen's hands.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from thudo.core.errors import FieldError, Message, validation_error

MAX_PHOTOS = 5
MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_SIDE = 1600
ACCEPTED = {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"}


@dataclass(frozen=True)
class Photo:
    data: bytes
    width: int
    height: int
    original_name: str
    content_type: str = "image/jpeg"


def _refuse(index: int, code: str, vi: str, en: str) -> FieldError:
    return FieldError(f"photos.{index}", code, Message(vi, en))


def clean_photo(raw: bytes, name: str, index: int = 0) -> Photo:
    """One upload as a clean JPEG, or a FieldError raised inside a DomainError (422)."""
    if len(raw) > MAX_BYTES:
        raise validation_error([_refuse(
            index, "photo.too_large",
            f"Ảnh {name} quá lớn ({len(raw) // 1024:,} KB); tối đa {MAX_BYTES // 1024 // 1024} MB.",
            f"Photo {name} is too large ({len(raw) // 1024:,} KB); at most {MAX_BYTES // 1024 // 1024} MB.",
        )])  # fmt: skip
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as probe:
                kind = probe.format or ""
                if probe.width * probe.height > MAX_PIXELS:
                    raise Image.DecompressionBombError("too many pixels")
                probe.verify()
            with Image.open(io.BytesIO(raw)) as img:
                img.load()
                upright = ImageOps.exif_transpose(img)
                picture = upright.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise validation_error([_refuse(
            index, "photo.too_many_pixels",
            f"Ảnh {name} có kích thước quá lớn (tối đa {MAX_PIXELS // 1_000_000} megapixel).",
            f"Photo {name} has too many pixels (at most {MAX_PIXELS // 1_000_000} megapixels).",
        )]) from None  # fmt: skip
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise validation_error([_refuse(
            index, "photo.not_an_image",
            f"Tệp {name} không phải là ảnh (JPEG, PNG, WebP).",
            f"File {name} is not an image (JPEG, PNG, WebP).",
        )]) from None  # fmt: skip
    if kind not in ACCEPTED:
        raise validation_error([_refuse(
            index, "photo.format",
            f"Định dạng ảnh {kind or '?'} của {name} không được nhận; hãy dùng JPEG, PNG hoặc WebP.",
            f"Image format {kind or '?'} of {name} is not accepted; use JPEG, PNG or WebP.",
        )])  # fmt: skip
    picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    # A fresh image carries no info: no EXIF, no GPS, no XMP, no ICC profile.
    clean = Image.new("RGB", picture.size)
    clean.paste(picture)
    clean.save(out, format="JPEG", quality=85, optimize=True)
    return Photo(out.getvalue(), clean.width, clean.height, name[:200])


def clean_photos(files: list[tuple[str, bytes]]) -> list[Photo]:
    """Every upload checked (422 naming the first bad one); empty uploads are skipped."""
    files = [(n, b) for n, b in files if b]
    if len(files) > MAX_PHOTOS:
        raise validation_error([FieldError("photos", "photos.too_many", Message(
            f"Tối đa {MAX_PHOTOS} ảnh cho một phản ánh.",
            f"At most {MAX_PHOTOS} photos per report.",
        ))])  # fmt: skip
    return [clean_photo(raw, name or f"anh-{i + 1}", i) for i, (name, raw) in enumerate(files)]
