"""Exports of the log's supply-chain records (EPCIS 2.0, FSMA 204, the 合格证) and EPCIS capture."""

from registry.exports.fsma204 import (
    CertificateView,
    certificate_view,
    epcis_export,
    epcis_json,
    fsma204_csv,
    fsma204_rows,
    fsma204_xlsx,
)

__all__ = [
    "CertificateView",
    "certificate_view",
    "epcis_export",
    "epcis_json",
    "fsma204_csv",
    "fsma204_rows",
    "fsma204_xlsx",
]
