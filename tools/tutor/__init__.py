"""Tutor: curriculum and question bank, knowledge tracing, item selection, grading, hints."""
