"""The validation error every pure parser raises: it names the field at fault."""


class DomainValidationError(ValueError):
    """Input that cannot be traded on; the caller shows `field` and `message` to the trader."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
