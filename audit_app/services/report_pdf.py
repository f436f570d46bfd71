"""HTML to an archival PDF: PDF/A-3b with the evidence bundle embedded and the AI-generated marking in XMP.

PDF/A-3 is the PDF/A part that allows embedded files of any type, each linked from the document catalogue
with an ``AFRelationship``; the bundle's is ``Data`` (the data the visible report was rendered from).
The AI Act Art. 50 marking is machine-readable twice over: IPTC's ``DigitalSourceType`` with the
``trainedAlgorithmicMedia`` code, the vocabulary content-credential tools read, and Glassbox's own
``gbx:AIGenerated``. PDF/A requires every XMP property outside its predefined schemas to be described by
an extension schema in the same packet, so both are described below.
"""

from __future__ import annotations

import datetime
import io
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pikepdf
import weasyprint
from weasyprint.urls import URLFetcher, URLFetcherResponse

from audit_app.services.text_direction import resolve_auto_direction

BUNDLE_NAME = "glassbox-evidence-bundle.json"
IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
GLASSBOX_NS = "https://glassbox.invalid/ns/report/1.0/"  # a name, never fetched
AI_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"

_EXTENSION_SCHEMAS = f"""<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"
  xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#" xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
<pdfaExtension:schemas><rdf:Bag>
<rdf:li rdf:parseType="Resource">
  <pdfaSchema:schema>IPTC Photo Metadata Extension</pdfaSchema:schema>
  <pdfaSchema:namespaceURI>{IPTC_EXT}</pdfaSchema:namespaceURI>
  <pdfaSchema:prefix>Iptc4xmpExt</pdfaSchema:prefix>
  <pdfaSchema:property><rdf:Seq><rdf:li rdf:parseType="Resource">
    <pdfaProperty:name>DigitalSourceType</pdfaProperty:name>
    <pdfaProperty:valueType>URI</pdfaProperty:valueType>
    <pdfaProperty:category>external</pdfaProperty:category>
    <pdfaProperty:description>Made by a trained algorithm (AI Act Art. 50).</pdfaProperty:description>
  </rdf:li></rdf:Seq></pdfaSchema:property>
</rdf:li>
<rdf:li rdf:parseType="Resource">
  <pdfaSchema:schema>Glassbox audit report</pdfaSchema:schema>
  <pdfaSchema:namespaceURI>{GLASSBOX_NS}</pdfaSchema:namespaceURI>
  <pdfaSchema:prefix>gbx</pdfaSchema:prefix>
  <pdfaSchema:property><rdf:Seq>
  <rdf:li rdf:parseType="Resource">
    <pdfaProperty:name>AIGenerated</pdfaProperty:name>
    <pdfaProperty:valueType>Boolean</pdfaProperty:valueType>
    <pdfaProperty:category>external</pdfaProperty:category>
    <pdfaProperty:description>The report presents AI-generated text (AI Act Art. 50(2)).</pdfaProperty:description>
  </rdf:li>
  <rdf:li rdf:parseType="Resource">
    <pdfaProperty:name>RecordSHA256</pdfaProperty:name>
    <pdfaProperty:valueType>Text</pdfaProperty:valueType>
    <pdfaProperty:category>external</pdfaProperty:category>
    <pdfaProperty:description>The record hash of the run record the report presents.</pdfaProperty:description>
  </rdf:li>
  <rdf:li rdf:parseType="Resource">
    <pdfaProperty:name>TestModel</pdfaProperty:name>
    <pdfaProperty:valueType>Boolean</pdfaProperty:valueType>
    <pdfaProperty:category>external</pdfaProperty:category>
    <pdfaProperty:description>The run used a tiny random test model, not Magistral.</pdfaProperty:description>
  </rdf:li>
  </rdf:Seq></pdfaSchema:property>
</rdf:li>
</rdf:Bag></pdfaExtension:schemas>
</rdf:Description>
<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="{IPTC_EXT}" xmlns:gbx="{GLASSBOX_NS}">
<Iptc4xmpExt:DigitalSourceType>{AI_SOURCE_TYPE}</Iptc4xmpExt:DigitalSourceType>
<gbx:AIGenerated>True</gbx:AIGenerated>
<gbx:RecordSHA256>%(record)s</gbx:RecordSHA256>
<gbx:TestModel>%(test_model)s</gbx:TestModel>
</rdf:Description>
</rdf:RDF>"""


# Where fonts may come from besides the report's own folder: the system's installed fonts.
SYSTEM_FONTS = Path("/usr/share/fonts")


class LocalOnlyFetcher(URLFetcher):  # type: ignore[misc]  # WeasyPrint ships no type hints
    """Fetches only files inside the report's own folders: never the network, never another local file.

    The model's text is rendered inert before it gets here; this is the second wall, so that no rule added
    to the renderer later can make an export contact a host (an SSRF from the worker) or read server files.
    """

    def __init__(self, *roots: Path) -> None:
        super().__init__(allowed_protocols={"file"}, allow_redirects=False)
        self._roots = [root.resolve() for root in roots]

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        parts = urlsplit(url)
        path = Path(unquote(parts.path)).resolve() if parts.scheme == "file" and not parts.netloc else None
        if path is None or not any(path.is_relative_to(root) for root in self._roots):
            raise ValueError(f"The report fetches only its own local files, not {url[:200]}")
        return super().fetch(url, headers)


def archival_pdf(
    html: str,
    *,
    base_url: str,
    bundle: bytes,
    record_sha256: str,
    test_model: bool,
    exported_at: datetime.datetime,
) -> bytes:
    """PDF/A-3b of ``html`` with ``bundle`` embedded (relationship Data) and the AI marking in its XMP.

    Deterministic apart from ``exported_at``: the file identifier is derived from the record hash, and the
    dates WeasyPrint would take from the clock come from ``exported_at``.
    """
    xmp = _EXTENSION_SCHEMAS % {"record": record_sha256, "test_model": "True" if test_model else "False"}
    attachment = weasyprint.Attachment(
        file_obj=io.BytesIO(bundle),
        name=BUNDLE_NAME,
        description="Glassbox evidence bundle (format 2): verify with standalone.py and the public key",
        relationship="Data",
    )
    fetcher = LocalOnlyFetcher(Path(base_url), SYSTEM_FONTS)
    page = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=fetcher)
    resolve_auto_direction(page.etree_element)  # WeasyPrint itself ignores dir="auto"
    rendered = page.write_pdf(
        pdf_variant="pdf/a-3b",
        attachments=[attachment],
        pdf_identifier=bytes.fromhex(record_sha256)[:16] if record_sha256 else b"glassbox-report",
    )
    return _finished(rendered, xmp, exported_at)


def _finished(pdf: bytes, xmp: str, at: datetime.datetime) -> bytes:
    """Our XMP descriptions inside WeasyPrint's one ``rdf:RDF`` (a second one is ignored by most readers), and
    every clock date WeasyPrint wrote (the embedded file's) replaced by the export time."""
    stamp = pikepdf.String(at.astimezone(datetime.UTC).strftime("D:%Y%m%d%H%M%SZ"))
    with pikepdf.open(io.BytesIO(pdf)) as document:
        packet = document.Root.Metadata.read_bytes()
        ours = xmp.split(">", 1)[1].rsplit("</rdf:RDF>", 1)[0]  # the descriptions, without our own rdf:RDF
        merged = packet.replace(b"</rdf:RDF>", ours.encode() + b"</rdf:RDF>", 1)
        document.Root.Metadata.write(merged)
        # XMP names WeasyPrint as producer; pikepdf would name itself in the info dictionary on save, and
        # PDF/A wants the two to agree.
        document.docinfo.Producer = pikepdf.String(f"WeasyPrint {weasyprint.__version__}")
        for spec in document.attachments.values():
            params = spec.obj.EF.F.get("/Params")
            if params is not None:
                params.CreationDate = stamp
                params.ModDate = stamp
        out = io.BytesIO()
        # Keep WeasyPrint's /ID and the XMP as written; pikepdf must not stamp itself as producer either.
        document.save(out, deterministic_id=False, static_id=True, fix_metadata_version=False)
    return out.getvalue()
