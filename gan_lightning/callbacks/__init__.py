"""Callbacks: sample grids, metrics, diagnostics. Configs name them by full class path."""
