"""The access policy: one file decides what an API key may read.

From it come the enforcement (a check that runs before execution), the introspection
slice a key sees, and the generated reference.
"""

from schema.policy.enforce import check_operation
from schema.policy.model import Policy, PolicyError, load_policy
from schema.policy.slice import SchemaSlices

__all__ = ["Policy", "PolicyError", "SchemaSlices", "check_operation", "load_policy"]
