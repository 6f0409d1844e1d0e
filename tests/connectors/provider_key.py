"""A provider key for the tests, put in the environment when this module is first imported.

The connector tests' conftest imports it at collection, before the session's Ray instance starts,
so that Ray's worker processes — where agents make their calls — see the key like the driver does.
It is shaped like no provider's key, so only redaction of known values can hide it.
"""

from __future__ import annotations

import os
import secrets

SECRET_KEY_ENV = "EKKLESIA_TEST_PROVIDER_KEY"
os.environ.setdefault(SECRET_KEY_ENV, "ekkt-" + secrets.token_hex(20))
