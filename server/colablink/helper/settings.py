"""The helper's settings, from ``initializationOptions`` and ``workspace/didChangeConfiguration``.

Both may carry the settings bare or under a ``colablink`` key (VS Code's configuration section).
A bad value is reported and ignored, so a typo in settings.json never stops the helper.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from colablink.helper.params import InvalidParams, validate
from colablink.helper.protocol import HelperSettings, LogLevel

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Settings:
    log_level: LogLevel = "info"
    code_lens: bool = True
    sync_exclude: tuple[str, ...] = ()
    sync_debounce_s: float = 0.2
    ssh_config: Path | None = None

    def updated(self, raw: Any) -> Settings:
        section = raw.get("colablink", raw) if isinstance(raw, dict) else raw
        if section is None:
            return self
        try:
            given = validate(section, HelperSettings)
        except InvalidParams as exc:
            log.warning("Ignored the settings: %s", exc.message.replace("params", "settings", 1))
            return self
        sync = given.get("sync", {})
        debounce_ms = sync.get("debounceMs")
        return Settings(
            log_level=given.get("logLevel", self.log_level),
            code_lens=given.get("codeLens", self.code_lens),
            sync_exclude=tuple(sync.get("exclude", self.sync_exclude)),
            sync_debounce_s=self.sync_debounce_s if debounce_ms is None else debounce_ms / 1000,
            ssh_config=_path(given.get("sshConfigFile", self.ssh_config)),
        )


def _path(value: str | Path | None) -> Path | None:
    return Path(value).expanduser() if value else None
