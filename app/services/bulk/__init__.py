"""Bulk work from a CSV: certificates issued from an uploaded file (bulk.certificates),
read and written safely (bulk.csvfile)."""
