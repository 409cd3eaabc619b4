"""Certificate templates: the admin's designs for certificate PDFs and verify pages."""
