"""Settings and region data packs. Imports nothing of ours."""

from config.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
