"""Configuration: documented defaults, environment overlay, validation."""

from config.settings import ConfigError, Settings, settings_table_markdown

__all__ = ["ConfigError", "Settings", "settings_table_markdown"]
