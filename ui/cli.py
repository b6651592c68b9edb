"""`rag ui`: check where the app may listen, then serve it.

The app can ingest files and read the whole index, so it stays on loopback unless a login is
configured; Gradio's public share links are never used.
"""

from __future__ import annotations

import ipaddress

from rag.errors import ConfigError
from rag.settings import Settings, get_settings

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost; 0.0.0.0 and every other address are not."""
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def auth_for(settings: Settings, host: str) -> tuple[str, str] | None:
    """Basic-auth credentials from settings; required (ConfigError) when `host` is not loopback."""
    user = (settings.ui.username or "").strip()
    password = settings.ui.password.get_secret_value() if settings.ui.password else ""
    if bool(user) != bool(password):
        raise ConfigError("set both RAG_UI__USERNAME and RAG_UI__PASSWORD for the UI login, or neither")
    if not user and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve the UI on {host} without a login: set RAG_UI__USERNAME and "
            "RAG_UI__PASSWORD, or use --host 127.0.0.1"
        )
    return (user, password) if user else None


def run(host: str | None = None, port: int | None = None, settings: Settings | None = None) -> None:
    """Serve until interrupted; host and port default to the `ui` settings (127.0.0.1:7860)."""
    s = settings or get_settings()
    host = host or s.ui.host
    port = port or s.ui.port
    auth = auth_for(s, host)
    from ui.app import launch  # gradio takes seconds to import: only once the checks passed

    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(f"Serving the UI at http://{shown}:{port} (Ctrl+C stops)")
    try:
        launch(s, host, port, auth=auth, block=True, quiet=True)
    except OSError as exc:
        detail = str(exc).split(". ")[0]  # gradio appends advice about its own env variables
        raise ConfigError(
            f"cannot listen on {host}:{port} ({detail}): pick another --port or RAG_UI__PORT"
        ) from None
