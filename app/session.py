"""Session cookies that are Secure wherever the browser could be on a network."""

import ipaddress
import logging

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface

logger = logging.getLogger(__name__)


def is_loopback_host(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1 : host.find("]")]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class SessionInterface(SecureCookieSessionInterface):
    """COOKIE_SECURE "auto": the cookie is Secure unless the page was fetched over plain
    HTTP from a loopback address (`make run` on a laptop), where some browsers would
    otherwise drop it; "1" always sets it, "0" never does."""

    def get_cookie_secure(self, app: Flask) -> bool:
        mode = str(app.config.get("COOKIE_SECURE", "auto")).lower()
        if mode in {"1", "true", "yes", "on"}:
            return True
        if mode in {"0", "false", "no", "off"}:
            return False
        return request.is_secure or not is_loopback_host(request.host)
