"""Password and API-token hashing."""
from __future__ import annotations

import hashlib
import secrets

from flask import current_app, has_app_context
from werkzeug.security import check_password_hash, generate_password_hash


def hash_password(password: str) -> str:
    # Tests configure a cheaper method; production keeps scrypt.
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if has_app_context() else "scrypt"
    return generate_password_hash(password, method=method)


def password_matches(stored_hash: str, password: str) -> bool:
    return check_password_hash(stored_hash, password)


def new_api_token() -> tuple[str, str]:
    """Return (token shown once to the user, hash stored in the database)."""
    token = "dsp_" + secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    # Tokens are long and random, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
