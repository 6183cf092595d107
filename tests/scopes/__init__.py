"""Scope files: the format, its parser and validator, the shipped templates, the validation report."""
