"""The web shell's fixtures (registered terminal, full login) serve the API's tests too."""

from yobo.web.tests.conftest import logged_in, tclient, terminal, totp_device  # noqa: F401
