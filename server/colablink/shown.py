"""Text from the runtime made safe to print: no control character reaches a terminal raw.

A GPU name, a file name or an error text can carry ``ESC]0;…`` (retitles the terminal), cursor
moves or bidi overrides; each such character is shown as its escape (``\\x1b``) instead.
"""

from __future__ import annotations

import unicodedata


def shown(text: object) -> str:
    return "".join(
        c if unicodedata.category(c) not in ("Cc", "Cf") else repr(c)[1:-1] for c in str(text)
    )
