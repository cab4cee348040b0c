"""Tests of the tools layer."""
