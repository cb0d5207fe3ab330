"""Conformance scenarios run against the engine."""
