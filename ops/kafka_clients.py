"""Every aiokafka client raiwatch makes comes from here, so connection and security settings
(`settings.kafka`: bootstrap servers, SASL/SCRAM, TLS, extra client arguments) apply to all of
them: the stages, the CLI, the local stack's health check, the benchmarks and the tests."""

from __future__ import annotations

from typing import Any

from .settings import RaiwatchSettings


def client_args(settings: RaiwatchSettings) -> dict[str, Any]:
    """Keyword arguments shared by every aiokafka client: bootstrap servers, security, and
    `kafka.client` passed through as given (it wins over the rest)."""
    kafka = settings.kafka
    args: dict[str, Any] = {"bootstrap_servers": settings.bootstrap_servers,
                            "security_protocol": kafka.security_protocol}
    if kafka.security_protocol.startswith("SASL"):
        args["sasl_mechanism"] = kafka.sasl_mechanism or "SCRAM-SHA-512"
        args["sasl_plain_username"] = kafka.username
        args["sasl_plain_password"] = kafka.password.get_secret_value() if kafka.password else None
    if kafka.security_protocol.endswith("SSL"):
        from aiokafka.helpers import create_ssl_context

        args["ssl_context"] = create_ssl_context(
            cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None,
            certfile=str(kafka.ssl_certfile) if kafka.ssl_certfile else None,
            keyfile=str(kafka.ssl_keyfile) if kafka.ssl_keyfile else None)
    return {**args, **kafka.client}


def describe_failure(settings: RaiwatchSettings, exc: BaseException) -> str:
    """A connection failure in words an operator can act on (never with a secret in it)."""
    from aiokafka.errors import AuthenticationFailedError, SaslAuthenticationFailed

    kafka = settings.kafka
    text = f"{type(exc).__name__}: {exc}"
    if kafka.password is not None:
        text = text.replace(kafka.password.get_secret_value(), "**********")
    chain = [exc, exc.__cause__, exc.__context__]
    if any(isinstance(e, (SaslAuthenticationFailed, AuthenticationFailedError)) for e in chain) \
            or "authentication failed" in text.lower():
        return (f"Kafka at {settings.bootstrap_servers}: authentication failed for user {kafka.username!r} "
                f"({kafka.sasl_mechanism or 'SASL'}); check RAIWATCH_KAFKA__USERNAME and RAIWATCH_KAFKA__PASSWORD")
    if "certificate" in text.lower() or "ssl" in text.lower():
        return (f"Kafka at {settings.bootstrap_servers}: TLS failed ({text}); check RAIWATCH_KAFKA__SSL_CAFILE "
                "and the broker's certificate")
    return f"cannot reach Kafka at {settings.bootstrap_servers}: {text}"


def consumer(settings: RaiwatchSettings, *topics: str, **kwargs: Any) -> Any:
    """An AIOKafkaConsumer (not started); `kafka.consumer` overrides `kwargs`."""
    from aiokafka import AIOKafkaConsumer

    return AIOKafkaConsumer(*topics, **{**client_args(settings), **kwargs, **settings.kafka.consumer})


def producer(settings: RaiwatchSettings, **kwargs: Any) -> Any:
    """An AIOKafkaProducer (not started); `kafka.producer` overrides `kwargs`."""
    from aiokafka import AIOKafkaProducer

    return AIOKafkaProducer(**{**client_args(settings), **kwargs, **settings.kafka.producer})


def admin(settings: RaiwatchSettings, **kwargs: Any) -> Any:
    """An AIOKafkaAdminClient (not started)."""
    from aiokafka.admin import AIOKafkaAdminClient

    args = {k: v for k, v in client_args(settings).items()}
    return AIOKafkaAdminClient(**{**args, **kwargs})
