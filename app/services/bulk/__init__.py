"""Bulk work from a CSV: certificates issued (bulk.certificates, which holds the pipeline
every kind shares) and micro-credentials awarded (bulk.awards) from an uploaded file, each
kind described in bulk.kinds; files read and written safely (bulk.csvfile)."""
