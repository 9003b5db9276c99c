"""Dataset metadata exports (Croissant JSON-LD, DataCite JSON and XML) and the Frictionless
``datapackage.json`` import. Pure functions on dicts; the service supplies the rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

CROISSANT_CONTEXT = {
    "@language": "en", "@vocab": "https://schema.org/", "cr": "http://mlcommons.org/croissant/",
    "dct": "http://purl.org/dc/terms/", "sc": "https://schema.org/",
    "conformsTo": "dct:conformsTo", "citeAs": "cr:citeAs",
}


def croissant(meta: dict[str, Any], files: list[dict[str, Any]]) -> dict[str, Any]:
    """Croissant 1.0 JSON-LD (required: @context, @type, conformsTo, name, description, license, url,
    creator, datePublished, version; files as cr:FileObject with sha256 and contentSize)."""
    return {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "name": meta["name"],
        "description": meta["description"],
        "license": meta.get("licence"),
        "url": meta.get("url") or meta["identifier"],
        "identifier": meta["identifier"],
        "version": meta["version"],
        "datePublished": str(meta["publication_year"]),
        "creator": [{"@type": "sc:Person" if not c.get("organisation") else "sc:Organization",
                     "name": c["name"], **({"identifier": c["orcid"]} if c.get("orcid") else {})}
                    for c in meta.get("creators", [])],
        "publisher": {"@type": "sc:Organization", "name": meta["publisher"]},
        "keywords": meta.get("subjects", []),
        "temporalCoverage": meta.get("temporal_coverage"),
        "spatialCoverage": meta.get("spatial_coverage"),
        "isBasedOn": [r["identifier"] for r in meta.get("related_identifiers", [])],
        "distribution": [{"@type": "cr:FileObject", "@id": f["name"], "name": f["name"],
                          "contentUrl": f["name"], "encodingFormat": f.get("media_type") or "application/octet-stream",
                          "sha256": f["sha256"], "contentSize": f"{f['size_bytes']} B"} for f in files],
    }


def datacite(meta: dict[str, Any], files: list[dict[str, Any]]) -> dict[str, Any]:
    """DataCite 4.5 JSON attributes (mandatory: identifier, creators, titles, publisher, publicationYear,
    resourceType) plus subjects, version, rights, dates, geoLocations, relatedIdentifiers, sizes."""
    ident = meta["identifier"]
    is_doi = ident.startswith("10.") or "doi.org/" in ident
    return {
        "identifiers": [{"identifier": ident.split("doi.org/")[-1], "identifierType": "DOI" if is_doi else "URL"}],
        "creators": [{"name": c["name"], "nameType": "Organizational" if c.get("organisation") else "Personal",
                      **({"nameIdentifiers": [{"nameIdentifier": c["orcid"], "nameIdentifierScheme": "ORCID"}]}
                         if c.get("orcid") else {}),
                      **({"affiliation": [{"name": c["affiliation"]}]} if c.get("affiliation") else {})}
                     for c in meta.get("creators", [])],
        "titles": [{"title": meta["name"]}],
        "publisher": {"name": meta["publisher"]},
        "publicationYear": meta["publication_year"],
        "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Dataset"},
        "subjects": [{"subject": s} for s in meta.get("subjects", [])],
        "version": meta["version"],
        "rightsList": [{"rights": meta.get("licence") or ""}],
        "descriptions": [{"description": meta["description"], "descriptionType": "Abstract"},
                         *([{"description": meta["provenance"], "descriptionType": "Methods"}]
                           if meta.get("provenance") else [])],
        "dates": [{"date": meta["temporal_coverage"], "dateType": "Collected"}] if meta.get("temporal_coverage") else [],
        "geoLocations": [{"geoLocationPlace": meta["spatial_coverage"]}] if meta.get("spatial_coverage") else [],
        "relatedIdentifiers": [{"relatedIdentifier": r["identifier"], "relationType": r.get("relation", "References"),
                                "relatedIdentifierType": r.get("type", "URL")}
                               for r in meta.get("related_identifiers", [])],
        "sizes": [f"{sum(f['size_bytes'] for f in files)} bytes"],
    }


def datacite_xml(meta: dict[str, Any], files: list[dict[str, Any]]) -> str:
    """DataCite 4.5 XML from the same content as ``datacite``."""
    d = datacite(meta, files)
    ns = "http://datacite.org/schema/kernel-4"
    root = ET.Element("resource", {"xmlns": ns})
    ident = d["identifiers"][0]
    ET.SubElement(root, "identifier", identifierType=ident["identifierType"]).text = ident["identifier"]
    creators = ET.SubElement(root, "creators")
    for c in d["creators"]:
        ET.SubElement(ET.SubElement(creators, "creator"), "creatorName", nameType=c["nameType"]).text = c["name"]
    ET.SubElement(ET.SubElement(root, "titles"), "title").text = meta["name"]
    ET.SubElement(root, "publisher").text = meta["publisher"]
    ET.SubElement(root, "publicationYear").text = str(meta["publication_year"])
    ET.SubElement(root, "resourceType", resourceTypeGeneral="Dataset").text = "Dataset"
    subjects = ET.SubElement(root, "subjects")
    for s in meta.get("subjects", []):
        ET.SubElement(subjects, "subject").text = s
    ET.SubElement(root, "version").text = meta["version"]
    ET.SubElement(ET.SubElement(root, "rightsList"), "rights").text = meta.get("licence") or ""
    ET.SubElement(ET.SubElement(root, "descriptions"), "description",
                  descriptionType="Abstract").text = meta["description"]
    rel = ET.SubElement(root, "relatedIdentifiers")
    for r in d["relatedIdentifiers"]:
        ET.SubElement(rel, "relatedIdentifier", relatedIdentifierType=r["relatedIdentifierType"],
                      relationType=r["relationType"]).text = r["relatedIdentifier"]
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def read_datapackage(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Metadata and files from a Frictionless ``datapackage.json`` (or a folder holding one). Resource
    ``schema.fields`` (type, constraints minimum/maximum) become the dataset schema; ``hash`` is the
    expected SHA-256 (prefix ``sha256:`` accepted)."""
    path = Path(path)
    if path.is_dir():
        path = path / "datapackage.json"
    pkg = json.loads(path.read_text(encoding="utf-8"))
    base = path.parent
    fields: dict[str, dict[str, Any]] = {}
    files = []
    for res in pkg.get("resources", []):
        for f in (res.get("schema") or {}).get("fields", []):
            c = f.get("constraints") or {}
            fields.setdefault(f["name"], {"name": f["name"], "type": f.get("type", "string"),
                                          **({"minimum": c["minimum"]} if "minimum" in c else {}),
                                          **({"maximum": c["maximum"]} if "maximum" in c else {}),
                                          **({"unit": f["unit"]} if f.get("unit") else {})})
        h = res.get("hash")
        files.append({"name": res.get("path"), "path": str((base / res["path"]).resolve()),
                      "media_type": res.get("mediatype") or ("text/csv" if str(res.get("path")).endswith(".csv") else None),
                      "split": res.get("split") or (res.get("name") if res.get("name") in ("train", "valid", "test") else None),
                      "sha256": h.split(":", 1)[-1] if h and (h.startswith("sha256:") or len(h) == 64) else None})
    licences = pkg.get("licenses") or []
    sources = pkg.get("sources") or []
    meta = {
        "slug": pkg.get("name"),
        "name": pkg.get("title") or pkg.get("name"),
        "description": pkg.get("description") or "",
        "version": pkg.get("version") or "1.0.0",
        "creators": [{"name": c.get("title") or c.get("name"), **({"orcid": c["orcid"]} if c.get("orcid") else {})}
                     for c in pkg.get("contributors", [])],
        "licence": (licences[0].get("name") or licences[0].get("path")) if licences else None,
        "publisher": pkg.get("publisher") or "",
        "publication_year": int(str(pkg.get("created") or "0")[:4] or 0) or None,
        "identifier": pkg.get("id") or pkg.get("homepage") or "",
        "subjects": pkg.get("keywords", []),
        "temporal_coverage": pkg.get("temporal_coverage"),
        "spatial_coverage": pkg.get("spatial_coverage"),
        "provenance": pkg.get("provenance") or "; ".join(s.get("title", "") + (f" <{s['path']}>" if s.get("path") else "")
                                                          for s in sources) or None,
        "related_identifiers": [{"identifier": s["path"], "relation": "IsDerivedFrom", "type": "URL"}
                                for s in sources if s.get("path")],
        "schema": {"fields": list(fields.values()), **({"label": pkg["label"]} if pkg.get("label") else {})},
    }
    return meta, files
