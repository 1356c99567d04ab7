"""Errors a service raises; the API maps each to an HTTP status with its message."""


class ServiceError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ServiceError):
    status_code = 400


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    status_code = 409


class Unprocessable(ServiceError):
    """A well-formed request whose values do not fit the data (a clip heard longer than it
    lasts, listening short of the listen gate): 422, the message naming the field."""

    status_code = 422
