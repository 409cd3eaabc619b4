"""/people/<id>: the person page."""
