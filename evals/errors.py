"""Evaluation errors.

    EvalError
    └── SuiteError     a suite or one of its cases is missing or malformed; names the case
                       and the file
"""


class EvalError(Exception):
    """Base of evaluation errors."""


class SuiteError(EvalError):
    """The suite cannot be evaluated as given."""
