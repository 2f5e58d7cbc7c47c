"""Server-rendered pages: login, the setup pages, and the navigation of DESIGN §5.3."""

from decimal import Decimal, InvalidOperation

from flask import Flask, g, request
from flask_login import current_user

from app.api.serialize import decimal
from app.services.records import audit


def register_pages(app: Flask) -> None:
    from app.routes.auth import bp as auth_bp
    from app.routes.health import bp as health_bp
    from app.routes.oauth import bp as oauth_bp
    from app.routes.pages import bp as pages_bp
    from app.routes.webhooks import bp as webhooks_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(oauth_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(health_bp)
    app.add_template_filter(amount_text, "amount")
    app.add_template_filter(price_text, "price")

    @app.before_request
    def _name_the_actor():
        actor = None
        if current_user.is_authenticated and request.blueprint in ("pages", "auth", "oauth"):
            actor = f"{current_user.username} (session)"
        audit.set_actor(actor)

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "connect-src 'self' ws: wss:; frame-ancestors 'none'",
        )
        if request.is_secure:  # behind TLS (directly, or a trusted proxy's X-Forwarded-Proto)
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        if g.get("no_store"):
            response.headers["Cache-Control"] = "no-store"
        return response


def price_text(value: Decimal | None) -> str:
    """A price without the column's padding zeros: 5012.250000000 → "5012.25"."""
    return "" if value is None else decimal(Decimal(str(value)))


def amount_text(value: str | Decimal | None) -> str:
    """An amount for people to read: "50000.00" → "50,000.00"; nothing → an em dash."""
    if value is None or value == "":
        return "—"
    try:
        return f"{Decimal(str(value)):,f}"
    except InvalidOperation:
        return str(value)
