"""One registry type for every pluggable part: source formats, meters, detectors, models, metrics, strategies.

A :class:`Registry` is a ``dict`` (name -> registered item) that knows what it holds, so every "unknown name"
error reads the same and lists the choices, and that registers with a decorator.

Examples
--------
>>> COLOURS: Registry[str] = Registry("colour")
>>> @COLOURS.register("red", make=lambda fn: fn())
... def _red() -> str:
...     return "#ff0000"
>>> COLOURS["red"]
'#ff0000'
>>> COLOURS.lookup("blue")
Traceback (most recent call last):
...
finops_lib.errors.ParameterError: unknown colour 'blue'; choose one of red
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from finops_lib.errors import ParameterError

__all__ = ["Registry"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class Registry(dict[str, T]):
    """A named registry: ``name -> item``, with a decorator to register and a lookup that names the choices.

    Parameters
    ----------
    kind
        What the registry holds, singular (``"detector"``): used in error messages.
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def register(self, name: str, *, make: Callable[[F], T] | None = None) -> Callable[[F], F]:
        """Return a decorator storing ``make(fn)`` (or ``fn`` itself) under ``name``; the function is unchanged.

        A name registered again replaces the earlier entry (a user's mapping or format may override a
        shipped one).
        """

        def wrap(fn: F) -> F:
            self[name] = make(fn) if make is not None else fn  # type: ignore[assignment]
            return fn

        return wrap

    def lookup(self, name: str) -> T:
        """Return the item registered under ``name``.

        Raises
        ------
        ParameterError
            When nothing is registered under ``name``; the message lists the registered names.
        """
        try:
            return self[name]
        except (KeyError, TypeError):
            raise ParameterError(f"unknown {self.kind} {name!r}; choose one of {self.choices()}") from None

    def choices(self) -> str:
        """Return the registered names, comma separated, in registration order."""
        return ", ".join(self) or "(none registered)"
