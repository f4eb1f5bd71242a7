"""Operations: the public constructors of expressions (layer 3)."""

from matgrad.ops.core import *  # noqa: F403
from matgrad.ops.core import __all__ as __all__
