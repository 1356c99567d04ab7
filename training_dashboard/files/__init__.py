"""File helpers every floor reaches downward: safe tar archives and PEFT adapter directory checks.

Plain Python and numpy: nothing here imports torch or another part of the package.
"""
