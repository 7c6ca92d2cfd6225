"""Errors the studio raises; every message is written for the person who will read it."""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "Conflict",
    "ImagesUnavailable",
    "NotFound",
    "PermissionDenied",
    "SaveFailed",
    "StoreCorrupt",
    "StoreUnavailable",
    "StudioError",
    "TooManyAttempts",
    "UploadRejected",
    "ValidationError",
]


class StudioError(Exception):
    """Base of every error the studio raises on purpose."""

    default_message = "Something went wrong on our side. Nothing was changed — please try again."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)

    @property
    def message(self) -> str:
        """Return the message meant for a person."""
        return str(self.args[0])


class StoreUnavailable(StudioError):
    """The data folder is in use by another process or cannot be opened."""


class StoreCorrupt(StudioError):
    """A store file is damaged and no good backup could replace it."""


class SaveFailed(StudioError):
    """A write could not be made durable; nothing was changed."""

    default_message = (
        "We couldn't save that just now, so nothing was changed. "
        "Please try again in a moment, or tell your facilitator if it keeps happening."
    )


class ImagesUnavailable(StudioError):
    """The image store (an S3 bucket) could not be reached or refused a request."""

    default_message = (
        "We couldn't reach the pictures just now. Nothing was changed — please try again in a "
        "moment, or tell your facilitator if it keeps happening."
    )


class UploadRejected(StudioError):
    """An uploaded file is not an image we accept."""

    default_message = "That file isn't an image we can open — try a JPEG, PNG or WebP photo."


class PermissionDenied(StudioError):
    """The acting person may not do this."""

    default_message = "This isn't available to your account."


class AuthenticationFailed(StudioError):
    """The username or password did not match (the same for unknown users)."""

    default_message = "That username and password don't match. Please check them and try again."


class ValidationError(StudioError):
    """Input does not meet a rule; the message names the rule."""


class NotFound(StudioError):
    """The thing asked for does not exist or is not visible to the acting person."""

    default_message = "We couldn't find that. It may have been removed."


class Conflict(StudioError):
    """The request clashes with what is already stored (a taken username, a used code)."""


class TooManyAttempts(StudioError):
    """Sign-in is paused for a moment after repeated failures."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        seconds = max(1, round(retry_after))
        super().__init__(
            f"Too many sign-in attempts. Please wait {seconds} second"
            f"{'s' if seconds != 1 else ''} and try again."
        )
