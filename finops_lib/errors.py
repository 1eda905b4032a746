"""The project's exception hierarchy.

Every error raised on purpose by ``finops_lib`` derives from :class:`FinopsError`, and says
where the fault is: file, line, column and value when they are known.
"""

from __future__ import annotations

from collections.abc import Sequence


class FinopsError(Exception):
    """Base class of every error raised on purpose by the workbench."""


class SchemaError(FinopsError):
    """A frame does not satisfy the declared schema.

    Parameters
    ----------
    table
        Name of the declared table (``costs``, ``requests`` ...).
    column
        The column at fault.
    problem
        What is wrong, in plain words.
    values
        A few offending values (shown, never all of them).
    """

    def __init__(self, table: str, column: str, problem: str, values: Sequence[object] = ()) -> None:
        self.table = table
        self.column = column
        self.problem = problem
        self.values = list(values)[:5]
        shown = f"; offending values: {self.values!r}" if self.values else ""
        super().__init__(f"table {table!r}, column {column!r}: {problem}{shown}")


class SourceError(FinopsError):
    """A source file cannot be read at all (as opposed to single rows, which go to rejects).

    Parameters
    ----------
    path
        The file.
    problem
        What is wrong.
    line, column, value
        Where, when known.
    """

    def __init__(
        self,
        path: object,
        problem: str,
        *,
        line: int | None = None,
        column: str | None = None,
        value: object = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.column = column
        self.value = value
        where = self.path
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        if value is not None:
            where += f", value {value!r}"
        super().__init__(f"{where}: {problem}")


class UnknownFormatError(SourceError):
    """No registered source format recognises the file's content."""


class EngineError(FinopsError):
    """The engine URL or warehouse cannot be used."""


class ParameterError(FinopsError):
    """A notebook, report or CLI parameter has an unusable value."""


class NotEnoughData(ParameterError):
    """The data cannot answer the question asked: too short, empty, or without the measure needed.

    The message says what is needed and what the data holds ("forecasts need 28 days of history; this folder has
    12"). Pages catch it and show the message where the chart or table would be; commands exit 2 with it.
    """
