"""The ``otel_context`` enqueue option: W3C trace context, stored as DBOS 3.4 stores it. Pure.

``dbos.DBOSClient`` folds the W3C trace context of the given OpenTelemetry ``Context`` into
the workflow's attributes, under ``"dbos.otelContext"``, as a carrier of ``traceparent`` (and
``tracestate`` when there is one); only that, never baggage. When the workflow runs, the
runtime parents its span to that context, so it joins the caller's trace. A context with no
valid span (no SDK tracer provider, or no span active) has nothing to propagate: then nothing
is recorded and the attributes stay exactly as given. The carrier wins over a hand-written
``"dbos.otelContext"`` attribute.

OpenTelemetry is an optional extra (``dbos-client[otel]``, the ``opentelemetry-api``
package): it is imported only when an ``otel_context`` is given, never otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import InvalidArgumentError

#: The attribute key DBOS keeps the carrier under (``dbos._context.OTEL_CARRIER_ATTRIBUTE``).
OTEL_CARRIER_ATTRIBUTE = "dbos.otelContext"


def trace_carrier(context: Any) -> dict[str, str]:
    """The W3C trace-context carrier of an OpenTelemetry ``Context``; empty when it holds no valid span."""
    try:
        from opentelemetry.context import Context
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
    except ImportError:
        raise InvalidArgumentError(
            "otel_context needs the opentelemetry-api package: pip install 'dbos-client[otel]'"
        ) from None
    if not isinstance(context, Context):
        raise InvalidArgumentError(
            f"otel_context must be an opentelemetry.context.Context (such as "
            f"opentelemetry.context.get_current()), got {type(context).__name__}"
        )
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier, context=context)
    return carrier


def attributes_with_otel_context(attributes: Mapping[str, Any] | None, context: Any) -> dict[str, Any] | None:
    """The attributes to store: the caller's, plus the trace carrier when there is one to propagate."""
    plain = None if attributes is None else dict(attributes)
    if context is None:
        return plain
    carrier = trace_carrier(context)
    if not carrier:
        return plain
    merged = plain or {}
    merged[OTEL_CARRIER_ATTRIBUTE] = carrier
    return merged
