"""Conformance (claim C8): do library Lookahead optimizers, nested as users nest them, compute
nested Lookahead? With the engine's own gradients, a conforming implementation reproduces the
engine's fast and slow iterates to rounding (relative deviation <= 1e-10).

- ``reference``: the engine's gradient noise (``engine_noise``), the NumPy twin of the engine that
  also records the fast iterates, and the same algorithm with known defects (``CAUSES``).
- ``harness``: ``Adapter`` (init, step, fast, slow), ``compare`` (verdict, first deviation,
  diagnosis).
- ``adapters``: ``optax_adapter``, ``torch_adapter`` and the built-in ``IMPLEMENTATIONS``.
- ``table``: ``conformance_table(preset)``, the C8 table.

Nothing here needs jax or torch until an implementation that uses them is run; a library that
does not import is reported as "not installed".
"""
from .adapters import IMPLEMENTATIONS, Implementation, missing_modules, optax_adapter, torch_adapter
from .harness import RTOL, Adapter, Comparison, Setting, compare, deviation, diagnose, drive
from .reference import CAUSES, Record, engine_noise, engine_reference, reference_run
from .table import PRESETS, ConformancePreset, ConformanceRow, ConformanceTable, conformance_table

__all__ = ["RTOL", "CAUSES", "Adapter", "Setting", "Comparison", "Record", "Implementation",
           "IMPLEMENTATIONS", "ConformancePreset", "PRESETS", "ConformanceRow", "ConformanceTable",
           "compare", "deviation", "diagnose", "drive", "engine_noise", "engine_reference",
           "reference_run", "optax_adapter", "torch_adapter", "missing_modules", "conformance_table"]
