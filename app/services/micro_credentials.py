"""The old name of app.services.credentials, kept only while the blueprints, the template
helpers, the tests and bench still import it: everything here is re-exported from that
package (and add_months from app.services.dates). New code imports app.services.credentials.
"""

from __future__ import annotations

from app.services.credentials import *  # noqa: F403
from app.services.credentials import __all__  # noqa: F401
