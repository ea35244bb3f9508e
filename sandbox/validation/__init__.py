"""Send-payload validation (framework-free): ``validate_send`` and its result types."""
from .messages import MEDIA_TYPES, MESSAGE_TYPES, ReadReceipt, SendRequest, normalise_number, validate_send

__all__ = ["MEDIA_TYPES", "MESSAGE_TYPES", "ReadReceipt", "SendRequest", "normalise_number", "validate_send"]
