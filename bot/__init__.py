"""Qorgau help-line bot: application factory, settings and services."""
