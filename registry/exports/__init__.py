"""Exports of the log's supply-chain records, and EPCIS capture.

- ``epcis/``: EPCIS 2.0 JSON-LD export of records and capture of events into records
  (GS1 EPCIS 2.0.1, CBV 2.0; the mapping is in its package docstring and docs/records.md);
- ``fsma204``: an FDA FSMA 204-style sortable spreadsheet of key data elements (CSV, XLSX);
- ``certificate`` and ``certificate_pdf``: a batch's printable 承诺达标合格证;
- ``loading`` and ``filters``: the records inside the latest signed checkpoint, by time.

The names below are what the API, the pages and the command line use.
"""

from registry.exports.certificate import CertificateView, certificate_view
from registry.exports.epcis.service import epcis_export, epcis_export_json, epcis_json
from registry.exports.fsma204 import (
    fsma204_csv,
    fsma204_file,
    fsma204_rows,
    fsma204_xlsx,
    write_fsma204,
)

__all__ = [
    "CertificateView",
    "certificate_view",
    "epcis_export",
    "epcis_export_json",
    "epcis_json",
    "fsma204_csv",
    "fsma204_file",
    "fsma204_rows",
    "fsma204_xlsx",
    "write_fsma204",
]
