"""Metrics that live apart from training code, computed the same way wherever they are used."""
