"""A griffe extension for the API reference: Sphinx roles in docstrings shown as code.

taskloom's numpydoc docstrings name other objects with Sphinx roles (``:func:`get```,
``:class:`~taskloom.delayed.Delayed```), which Markdown would print as written. This
rewrites each into inline code before the docstring is parsed: the target as written,
or its last component after a ``~``, as Sphinx shows it. Loaded by mkdocs.yml
(``extensions:`` of the mkdocstrings python handler).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|obj|data|exc|const):`(~?)([^`]+)`")


def _as_code(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def strip_roles(text: str) -> str:
    """``text`` with every Sphinx role replaced by inline code.

    Examples
    --------
    >>> strip_roles("see :func:`get` and :class:`~taskloom.delayed.Delayed`")
    'see `get` and `Delayed`'
    """
    return _ROLE.sub(_as_code, text)


class SphinxRoles(griffe.Extension):
    """Rewrites the roles of every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = strip_roles(obj.docstring.value)
