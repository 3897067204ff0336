"""One rule for the text of every request: it must be encodable as UTF-8.

JSON may carry lone surrogates (``"\\ud800"``); Python decodes them into a ``str`` that
cannot be encoded again, so the first tokenizer, log line or JSON response that touches it
fails. Request models refuse such input up front (422) with one shared check::

    class SomeRequest(BaseModel):
        _utf8 = model_validator(mode="before")(require_utf8)

:func:`require_utf8` walks the raw input (strings, and the keys and values of lists and
objects, however nested), so text in fields a model otherwise ignores is refused too.
"""

from __future__ import annotations

from typing import Any


def first_unencodable(value: Any) -> str | None:
    """Where (``messages[0].content``) the first string that is not valid UTF-8 text is, or None
    (``""`` when ``value`` itself is that string)."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if not is_utf8(item):
                return where
        elif isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                name = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and not is_utf8(key):
                    return where or "a field name"
                stack.append((child, name))
        elif isinstance(item, (list, tuple)):
            stack.extend((child, f"{where}[{i}]") for i, child in reversed(list(enumerate(item))))
    return None


def require_utf8(cls: type, data: Any) -> Any:  # noqa: ARG001 - a pydantic "before" model validator
    """``data`` unchanged, or ValueError naming the field whose text cannot be encoded."""
    where = first_unencodable(data)
    if where is not None:
        where = where if len(where) <= 80 else where[:79] + "…"
        raise ValueError(f"{where or 'the request'} contains text that is not valid Unicode "
                         "(a lone surrogate such as \\ud800); send UTF-8 text")
    return data


def is_utf8(value: str | bytes) -> bool:
    """True for bytes that decode as UTF-8 and for text that encodes to it (no lone surrogates)."""
    try:
        value.decode("utf-8") if isinstance(value, bytes) else value.encode("utf-8")
    except UnicodeError:
        return False
    return True
