"""Public certificate verification: /verify pages, signed JSON answers and the JWKS."""
