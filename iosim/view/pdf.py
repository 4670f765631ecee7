"""A PDF of pictures, one a page, written as the pages are drawn: each page is kept only as
its JPEG bytes until written, so a lesson of a hundred slides costs a few megabytes, not a
hundred frames held in memory (Pillow's multi-page PDF keeps every page's image).

The file is the smallest PDF 1.4 that viewers and printers read: a catalog, a page tree, and
per page an image (DCTDecode) drawn over the whole page.
"""

from __future__ import annotations

import io
from typing import BinaryIO

from PIL import Image

JPEG_QUALITY = 92  # text stays sharp (no chroma subsampling either)


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
    return out.getvalue()


def _text(value: str) -> bytes:
    """A PDF text string: UTF-16BE with its byte order mark, in hex (any character)."""
    return b"<FEFF" + value.encode("utf-16-be").hex().upper().encode() + b">"


class PdfWriter:
    """Pages added one by one (``add``), then ``close`` writes the page tree and the cross
    reference table. ``dpi`` sets the page size: pixels / dpi inches."""

    def __init__(self, f: BinaryIO, title: str, dpi: float) -> None:
        self.f = f
        self.dpi = dpi
        self.offsets: dict[int, int] = {}
        self.pages: list[int] = []
        self.next_id = 4  # 1 catalog, 2 page tree, 3 document information
        self.title = title
        self._write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")

    def _write(self, data: bytes) -> None:
        self.f.write(data)

    def _object(self, number: int, body: bytes, stream: bytes | None = None) -> None:
        self.offsets[number] = self.f.tell()
        self._write(b"%d 0 obj\n" % number + body)
        if stream is not None:
            self._write(b"\nstream\n" + stream + b"\nendstream")
        self._write(b"\nendobj\n")

    def add(self, image: Image.Image) -> None:
        width, height = image.size
        w_pt, h_pt = width * 72.0 / self.dpi, height * 72.0 / self.dpi
        data = jpeg(image)
        image_id, contents_id, page_id = self.next_id, self.next_id + 1, self.next_id + 2
        self.next_id += 3
        self._object(image_id, b"<< /Type /XObject /Subtype /Image /Width %d /Height %d "
                     b"/ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode "
                     b"/Length %d >>" % (width, height, len(data)), data)
        draw = b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q" % (w_pt, h_pt)
        self._object(contents_id, b"<< /Length %d >>" % len(draw), draw)
        self._object(page_id, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] "
                     b"/Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>"
                     % (w_pt, h_pt, image_id, contents_id))
        self.pages.append(page_id)

    def close(self) -> None:
        kids = b" ".join(b"%d 0 R" % p for p in self.pages)
        self._object(2, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(self.pages)))
        self._object(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        self._object(3, b"<< /Title %s /Producer (iosim) >>" % _text(self.title))
        start = self.f.tell()
        size = self.next_id
        rows = [b"0000000000 65535 f \n"] + [b"%010d 00000 n \n" % self.offsets[n]
                                            for n in range(1, size)]
        self._write(b"xref\n0 %d\n" % size + b"".join(rows))
        self._write(b"trailer\n<< /Size %d /Root 1 0 R /Info 3 0 R >>\nstartxref\n%d\n%%%%EOF\n"
                    % (size, start))
