"""Bare extension singletons, bound to the app in create_app()."""

import logging

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from app.models.base import Base

logger = logging.getLogger(__name__)

# One session per app context. Rows outlive their commit: services hand the rows they
# committed to routes, events and the next step, so a commit must not expire them.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(get_remote_address, default_limits=[])
socketio = SocketIO()
