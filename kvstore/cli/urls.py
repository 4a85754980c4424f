"""Store URLs shown to people: ``redact_url`` hides the password of ``user:password@``.

Used by the command line and the demo, which both print the URL of the store they use.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["redact_url"]


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, safe to print.

    Args:
        url: A store URL, possibly with ``user:password@``.

    Returns:
        The URL without its password.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<malformed URL>"
    if "@" not in parts.netloc:
        return url
    userinfo, _, hosts = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    netloc = f"{user}:***@{hosts}" if ":" in userinfo else f"{user}@{hosts}"
    return urlunsplit(parts._replace(netloc=netloc))
