"""The kinds camctl understands, their status, and the facts it observes.

Nothing here does I/O or imports the rest of camctl: every other part builds on it.
"""
