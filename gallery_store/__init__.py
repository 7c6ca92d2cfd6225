"""Kindred Canvas's domain: the store, the image pipeline and every service.

Nothing here imports Streamlit. Every service method takes the acting user first
and decides what that person may see or do.
"""

from .config import StudioConfig, config_from_env, default_data_dir
from .errors import (
    AuthenticationFailed,
    NotFound,
    PermissionDenied,
    StudioError,
    UploadRejected,
    ValidationError,
)
from .models import REACTIONS, Artwork, Circle, Comment, Prompt, Reflection, User
from .studio import Studio, open_studio

__all__ = [
    "REACTIONS",
    "Artwork",
    "AuthenticationFailed",
    "Circle",
    "Comment",
    "NotFound",
    "PermissionDenied",
    "Prompt",
    "Reflection",
    "Studio",
    "StudioConfig",
    "StudioError",
    "UploadRejected",
    "User",
    "ValidationError",
    "config_from_env",
    "default_data_dir",
    "open_studio",
]
